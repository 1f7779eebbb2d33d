"""Real citylink processes (API and workers) on real PostgreSQL and NATS, a paced client, and the store's counts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from citylink.domain.audit import verify_chain
from citylink.store import audit_repo, camera_repo
from citylink.store.database import Database
from tests.conftest import SPOT, default_cameras, event_body
from tests.live import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "citylink", "serve", *self.args], cwd=REPO,
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_for_log(self, needle: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.log.read_text(errors="replace"):
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no {needle!r} within {timeout_s} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    """One API process and any number of workers sharing a data directory, a database and a NATS namespace."""

    tmp: Path
    database_url: str
    nats_url: str
    namespace: str
    extra_env: dict[str, str] = field(default_factory=dict)
    api: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    port: int = 0

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", "CITYLINK_DATA_DIR": str(self.tmp / "data"),
                "CITYLINK_DATABASE_URL": self.database_url, "CITYLINK_NATS_URL": self.nats_url,
                "CITYLINK_NATS_NAMESPACE": self.namespace, "CITYLINK_NATS_ACK_WAIT_S": "3",
                "CITYLINK_RELAY_AFTER_S": "2", **self.extra_env}

    def seed(self) -> None:
        """Schema and cameras before any process starts (they would all migrate at once otherwise)."""
        db = Database.open(self.database_url)
        try:
            db.write_sync(lambda s: camera_repo.upsert_many(s, default_cameras(), now=datetime.now(UTC)))
        finally:
            db.close()

    def start_api(self) -> Proc:
        self.port = self.port or free_port()
        self.api = Proc("api", ["--role", "api", "--port", str(self.port), "--log-level", "warning"], self.env(),
                        self.tmp / "api.log").start()
        self.wait_healthy()
        return self.api

    def start_worker(self, index: int) -> Proc:
        worker = Proc(f"worker-{index}", ["--role", "worker"], self.env(), self.tmp / f"worker-{index}.log").start()
        worker.wait_for_log("worker started")
        if index < len(self.workers):
            self.workers[index] = worker
        else:
            self.workers.append(worker)
        return worker

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.api is not None and self.api.process is not None
            if self.api.process.poll() is not None:
                raise RuntimeError(f"api exited:\n{self.api.tail()}")
            time.sleep(0.1)
        raise RuntimeError("api did not become healthy")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def key(self, agency: str = "police") -> str:
        keys: dict[str, str] = json.loads((self.tmp / "data" / "bootstrap-keys.json").read_text())
        return keys[agency]

    def stop(self) -> None:
        for proc in [*self.workers, *([self.api] if self.api else [])]:
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in [*([self.api] if self.api else []), *self.workers])


def bodies(n: int, *, run: str) -> Iterator[dict[str, Any]]:
    """n distinct events: robberies (a police grant each) and wearable SOS (a grant and two notifications)."""
    for i in range(n):
        occurrence = f"{run}{i:07d}"
        if i % 10 < 7:
            yield event_body(occurrence=occurrence, items=[{"key": "CRIME_TYPE", "val": "robbery"}])
        else:
            body = event_body("WPSSF110", occurrence=occurrence,
                              items=[{"key": "GUARDIAN_PHONE", "val": "+358400000001"}], at=SPOT)
            body["sender"] = {"system": "WPS", "city": "helsinki"}
            yield body


@dataclass
class PostResult:
    ok_event_ids: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def post_paced(base: str, key: str, events: list[dict[str, Any]], *, rate: float,
                     concurrency: int = 32, on_progress: Any = None) -> PostResult:
    """POST every event at a steady rate; a refused or failed request is retried until it is answered 2xx
    (the way a real sender behaves), so every event ends up accepted exactly once."""
    result = PostResult()
    semaphore = asyncio.Semaphore(concurrency)
    start = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                                 limits=limits) as client:

        async def send(i: int, body: dict[str, Any]) -> None:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            async with semaphore:
                for _attempt in range(600):
                    try:
                        answer = await client.post("/api/v1/events", json=body)
                    except httpx.TransportError:
                        result.count(-1)
                        await asyncio.sleep(0.2)
                        continue
                    result.count(answer.status_code)
                    if answer.status_code in (200, 201):
                        result.ok_event_ids.add(answer.json()["event_id"])
                        if on_progress is not None:
                            on_progress(len(result.ok_event_ids))
                        return
                    await asyncio.sleep(float(answer.headers.get("retry-after", "0.2")))
                raise AssertionError(f"event {i} never accepted")

        await asyncio.gather(*(send(i, body) for i, body in enumerate(events)))
    return result


def scalar(database_url: str, sql: str) -> int:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def wait_all_dispatched(database_url: str, *, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while scalar(database_url, "SELECT count(*) FROM events WHERE NOT dispatched"):
        assert time.monotonic() < deadline, "events still not handled by their services"
        time.sleep(0.5)


@dataclass(frozen=True)
class Effects:
    events: int
    incidents: int
    undispatched: int
    grants: int
    incidents_without_grant: int
    duplicate_grants: int
    notifications: int
    duplicate_notifications: int
    audit_problems: int

    def table(self) -> str:
        return "\n".join(f"  {name:<26} {value:>7,}" for name, value in vars(self).items())


def effects(database_url: str) -> Effects:
    q = lambda sql: scalar(database_url, sql)  # noqa: E731
    db = Database.open(database_url, run_migrations=False)
    try:
        problems = len(db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s))))
    finally:
        db.close()
    return Effects(
        events=q("SELECT count(*) FROM events"),
        incidents=q("SELECT count(*) FROM incidents"),
        undispatched=q("SELECT count(*) FROM events WHERE NOT dispatched"),
        grants=q("SELECT count(*) FROM grants"),
        incidents_without_grant=q("SELECT count(*) FROM incidents i WHERE NOT EXISTS "
                                  "(SELECT 1 FROM grants g WHERE g.incident_id = i.id AND g.agency = 'police')"),
        duplicate_grants=q("SELECT count(*) FROM (SELECT incident_id, agency FROM grants "
                           "GROUP BY incident_id, agency HAVING count(*) > 1) d"),
        notifications=q("SELECT count(*) FROM notifications"),
        duplicate_notifications=q("SELECT count(*) FROM (SELECT incident_id, recipient, channel FROM notifications "
                                  "GROUP BY incident_id, recipient, channel HAVING count(*) > 1) d"),
        audit_problems=problems,
    )
