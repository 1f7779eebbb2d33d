"""Benchmark: event to grant with 1 and with 2 worker processes on NATS JetStream + PostgreSQL/PostGIS.

    python bench/worker_scaling.py [--backlog 20000] [--rate 150] [--duration 20] [--selection postgis]

For each worker count, on a fresh PostgreSQL database (PostGIS selection by default) and a fresh NATS namespace,
with the Helsinki cameras:

1. backlog: the API process (``citylink serve --role api``) takes --backlog events while no worker runs; then
   the workers start and the time until every event has been handled gives the throughput. Each worker's CPU
   time (user + system, from /proc) gives its efficiency: events handled per worker CPU-second. If the work is
   really shared (not duplicated, not serialised on a lock), efficiency with 2 workers stays within 15 % of 1.
2. latency: events at a steady --rate for --duration seconds with the workers running; event to grant is the
   grant's issue time minus the event's receive time, both written by the processes into the store.

This machine has 2 cores shared by the client, PostgreSQL, NATS, the API and the workers: raw throughput is
capped by the cores, which is why efficiency is the measure of scaling here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from _load import Summary, helsinki_event_bodies, http_request, ms, open_loop
from _processes import Server, free_port, thread_cpu, throwaway_database
from citylink.adapters.camera_import import read_cameras
from citylink.store import camera_repo
from citylink.store.database import Database

REPO = Path(__file__).resolve().parents[1]
HELSINKI_PBF = REPO / "data" / "helsinki.osm.pbf"
TARGET_EFFICIENCY_LOSS = 0.15
console = Console()


@dataclass(frozen=True)
class Round:
    workers: int
    backlog: int
    drain_s: float
    worker_cpu_s: list[float]
    latency: Summary
    latency_events: int
    handler_failures: int  # batches or events a service failed on (retried): contention shows up here

    @property
    def throughput(self) -> float:
        return self.backlog / self.drain_s

    @property
    def efficiency(self) -> float:
        return self.backlog / sum(self.worker_cpu_s)


def _pg_admin(pg: str) -> str:
    return pg.replace("postgresql://", "postgresql+psycopg://", 1)


def _scalar(url: str, sql: str) -> float:
    engine = create_engine(_pg_admin(url))
    try:
        with engine.connect() as conn:
            return float(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


async def _drop_streams(nats_url: str, namespace: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for purpose in ("EVENTS", "FEED"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(f"{namespace.upper()}_{purpose}")
    await nc.close()


def _wait(predicate: object, *, timeout_s: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _post(port: int, key: str, *, n: int, rate: float, run: str, seed: int) -> None:
    host = f"127.0.0.1:{port}"
    requests = [http_request(b, host=host, key=key) for b in helsinki_event_bodies(n, seed=seed, run=run)]
    timings = asyncio.run(open_loop("127.0.0.1", port, requests, rate=rate, connections=32, grace_s=60.0))
    status = np.frombuffer(timings.status, dtype=np.int16)
    if not np.all((status >= 200) & (status < 300)):
        raise RuntimeError(f"not every event was accepted: {np.unique(status, return_counts=True)}")


def one_round(workers: int, args: argparse.Namespace, tmp: Path) -> Round:
    with throwaway_database(args.postgres) as url:
        return _measure(workers, args, tmp, url)


def _measure(workers: int, args: argparse.Namespace, tmp: Path, url: str) -> Round:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    data = tmp / f"w{workers}"
    env = {**os.environ, "CITYLINK_DATA_DIR": str(data), "CITYLINK_DATABASE_URL": url,
           "CITYLINK_NATS_URL": args.nats, "CITYLINK_NATS_NAMESPACE": namespace,
           "CITYLINK_SELECTION__ENGINE": args.selection, "CITYLINK_LOG_LEVEL": "warning"}
    db = Database.open(url)
    db.write_sync(lambda s: camera_repo.upsert_many(s, read_cameras(HELSINKI_PBF).cameras, now=datetime.now(UTC)))
    db.close()
    processes: list[Server] = []
    try:
        port = free_port()
        api = Server.start("api", [sys.executable, "-m", "citylink", "serve", "--role", "api", "--port", str(port),
                                   "--log-level", "warning"], port=port, log=tmp / f"api-{workers}.log", env=env)
        processes.append(api)
        key = json.loads((data / "bootstrap-keys.json").read_text())["police"]
        with console.status(f"{workers} worker(s): posting a backlog of {args.backlog:,} events, no worker running"):
            _post(port, key, n=args.backlog, rate=args.backlog_rate, run="B", seed=args.seed)
        to_handle = int(_scalar(url, "SELECT count(*) FROM events WHERE NOT dispatched"))
        with console.status(f"{workers} worker(s): handling {to_handle:,} events"):
            pids = []
            for i in range(workers):
                worker = Server.start(f"worker-{i}", [sys.executable, "-m", "citylink", "serve", "--role", "worker"],
                                      log=tmp / f"worker-{workers}-{i}.log", env=env, ready="worker started")
                processes.append(worker)
                pids.append(worker.process.pid)
            cpu0 = [sum(thread_cpu(pid).values()) for pid in pids]
            start = time.monotonic()
            _wait(lambda: _scalar(url, "SELECT count(*) FROM events WHERE NOT dispatched") == 0,
                  timeout_s=600, what="the backlog")
            drain_s = time.monotonic() - start
            cpu = [sum(thread_cpu(pid).values()) - c0 for pid, c0 in zip(pids, cpu0, strict=True)]
        with console.status(f"{workers} worker(s): {args.rate:.0f} events/s for {args.duration:.0f} s"):
            _post(port, key, n=round(args.rate * args.duration), rate=args.rate, run="L", seed=args.seed + 1)
            _wait(lambda: _scalar(url, "SELECT count(*) FROM events WHERE NOT dispatched") == 0,
                  timeout_s=300, what="the steady load")
        latencies = _latencies(url)
        failures = sum(p.log.read_text(errors="replace").count("failed on") for p in processes)
        return Round(workers, to_handle, drain_s, cpu, Summary.of_ns(latencies), len(latencies), failures)
    finally:
        for process in reversed(processes):
            process.stop()
        asyncio.run(_drop_streams(args.nats, namespace))


def _latencies(url: str) -> list[int]:
    """Event received (API) to first grant issued (worker), in ns, for the steady phase's events."""
    engine = create_engine(_pg_admin(url))
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT EXTRACT(EPOCH FROM (min(g.issued_at) - e.received_at)) FROM events e "
            "JOIN grants g ON g.incident_id = e.incident_id "
            "WHERE e.payload->>'occurrence' LIKE 'L%' GROUP BY e.id, e.received_at")).scalars().all()
    engine.dispose()
    return [int(float(r) * 1e9) for r in rows]


def _table(rounds: list[Round]) -> Table:
    table = Table(title="event to grant on NATS JetStream + PostgreSQL/PostGIS", title_justify="left")
    table.add_column("measure")
    for r in rounds:
        table.add_column(f"{r.workers} worker{'s' if r.workers > 1 else ''}", justify="right")
    rows = [
        ("backlog handled (service events)", [f"{r.backlog:,}" for r in rounds]),
        ("time to handle it", [f"{r.drain_s:.1f} s" for r in rounds]),
        ("throughput (events/s)", [f"{r.throughput:,.0f}" for r in rounds]),
        ("worker CPU-seconds", [" + ".join(f"{c:.1f}" for c in r.worker_cpu_s) for r in rounds]),
        ("efficiency (events per worker CPU-second)", [f"{r.efficiency:,.0f}" for r in rounds]),
        ("service failures retried (from the logs)", [f"{r.handler_failures:,}" for r in rounds]),
        ("steady load: events with a grant", [f"{r.latency_events:,}" for r in rounds]),
        ("event to grant p50", [ms(r.latency.p50) for r in rounds]),
        ("event to grant p90", [ms(r.latency.p90) for r in rounds]),
        ("event to grant p99", [ms(r.latency.p99) for r in rounds]),
        ("event to grant max", [ms(r.latency.max) for r in rounds]),
    ]
    for label, values in rows:
        table.add_row(label, *values)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=20_000, help="events posted before the workers start")
    parser.add_argument("--backlog-rate", type=float, default=1500.0, help="events/s while posting the backlog")
    parser.add_argument("--rate", type=float, default=150.0, help="steady events/s for the latency phase")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the latency phase")
    parser.add_argument("--selection", choices=("postgis", "memory"), default="postgis")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a server's maintenance database; each round makes its own database there")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--logs", type=Path, help="keep the processes' logs and data here (default: deleted)")
    args = parser.parse_args(argv)
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
        rounds = [one_round(n, args, args.logs) for n in (1, 2)]
    else:
        with tempfile.TemporaryDirectory(prefix="citylink-bench-") as tmp:
            rounds = [one_round(n, args, Path(tmp)) for n in (1, 2)]
    console.print(_table(rounds))
    one, two = rounds
    loss = 1 - two.efficiency / one.efficiency
    verdict = "PASS" if loss <= TARGET_EFFICIENCY_LOSS else "FAIL"
    console.print(f"{verdict}: efficiency with 2 workers is {two.efficiency / one.efficiency:.0%} of 1 worker "
                  f"(target ≥ {1 - TARGET_EFFICIENCY_LOSS:.0%}); throughput ×{two.throughput / one.throughput:.2f} "
                  f"on {os.cpu_count()} cores shared with PostgreSQL, NATS, the API and the client")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
