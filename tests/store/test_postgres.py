"""The same schema, migrations and flow on a real PostgreSQL server."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from citylink.api.app import create_app
from citylink.domain.agencies import Agency, AgencyKind
from citylink.domain.audit import verify_chain
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store import agency_repo, audit_repo
from citylink.store.database import Database
from tests.conftest import default_cameras, event_body

pytestmark = pytest.mark.services


async def test_robbery_flow_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    platform = Platform.open(settings)
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        police = {"Authorization": f"Bearer {keys['police']}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            created = await client.post("/api/v1/events", json=event_body(), headers=police)
            duplicate = await client.post("/api/v1/events", json=event_body(), headers=police)
            assert (created.status_code, duplicate.status_code) == (201, 200)
            await platform.wait_idle()
            incident = (await client.get(f"/api/v1/incidents/{created.json()['incident_id']}",
                                         headers=police)).json()
            assert incident["cameras"][0]["id"] == "sees"
            assert incident["grants"][0]["agency"] == "police"
            ended = await client.post("/api/v1/events", json=event_body(status="91",
                                                                        time="2026-11-26T11:30:00+02:00"),
                                      headers=police)
            assert ended.status_code == 201
        problems = platform.db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s)))
        assert problems == []


def test_two_workers_creating_the_same_unit_at_once_both_succeed(pg_url: str) -> None:
    """Two worker processes dispatching the same new patrol unit: the second must not fail on the first's row."""
    first, second = Database.open(pg_url), Database.open(pg_url, run_migrations=False)
    unit = Agency(id="police/patrol-13", name="Police: patrol-13", kind=AgencyKind.POLICE)
    now = datetime.now(UTC)
    errors: list[BaseException] = []
    try:
        with first.sessions() as s1, s1.begin():
            agency_repo.create_if_absent(s1, unit, now=now)

            def other_worker() -> None:
                try:  # blocks on the first one's uncommitted row, then does nothing
                    second.write_sync(lambda s2: agency_repo.create_if_absent(s2, unit, now=now))
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=other_worker)
            thread.start()
            thread.join(timeout=0.5)
        thread.join(timeout=10)
        assert errors == []
        assert [a.id for a in first.read_sync(agency_repo.list_agencies)] == ["police/patrol-13"]
    finally:
        first.close()
        second.close()


def test_processes_starting_together_migrate_once(pg_url: str) -> None:
    """API and worker processes start at the same moment on an empty database: none fails on the schema."""
    errors: list[BaseException] = []
    opened: list[Database] = []

    def start() -> None:
        try:
            opened.append(Database.open(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for db in opened:
        db.close()
    assert errors == [] and len(opened) == 3
