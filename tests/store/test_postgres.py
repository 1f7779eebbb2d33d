"""The same schema, migrations and flow on a real PostgreSQL server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from citylink.api.app import create_app
from citylink.domain.agencies import Agency, AgencyKind
from citylink.domain.audit import verify_chain
from citylink.domain.catalogue import Grade
from citylink.domain.devices import DeviceType, Reading, reading_id
from citylink.domain.environment import Level, Measure
from citylink.runtime.environment import EnvironmentWatch
from citylink.runtime.intake import Accepted
from citylink.runtime.platform import Platform
from citylink.settings import EnvironmentSettings, Settings
from citylink.store import agency_repo, audit_repo, outbox_repo, sensor_repo
from citylink.store.database import Database
from citylink.store.tables import SensorRow
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
    try:
        # The second blocks on the first one's uncommitted row, then does nothing.
        _meanwhile(first, lambda s1: agency_repo.create_if_absent(s1, unit, now=now),
                   second, lambda s2: agency_repo.create_if_absent(s2, unit, now=now))
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


def test_two_processes_raising_the_same_alarm_at_once_open_one_incident(pg_url: str) -> None:
    """Two API processes take the first high readings of two sensors at the same moment: the alarm row's lock
    makes the second join the first's alarm (a change) instead of opening another."""
    first, second = Database.open(pg_url), Database.open(pg_url, run_migrations=False)
    measure = Measure(name="rainfall_mm_3h", label="Rainfall", unit="mm", code="WESEN110", levels=(
        Level(name="rain_advisory", grade=Grade.NORMAL, raise_at=60, clear_below=30),))
    settings = EnvironmentSettings(measures=(measure,))
    now = datetime.now(UTC)

    async def no_intake(*_: object, **__: object) -> Accepted:
        raise AssertionError("not handed over in this test")

    watches = [EnvironmentWatch(db, settings=settings, submit=no_intake, clock=lambda: now) for db in (first, second)]

    def reading(sensor_id: str) -> Reading:
        return Reading(reading_id("pg", DeviceType.SENSOR, sensor_id, now), "pg", DeviceType.SENSOR, sensor_id, now,
                       None, None, {"rainfall_mm_3h": 75.0})

    def register(session: Session) -> None:
        for sensor_id in ("R-1", "R-2"):
            sensor_repo.register(session, SensorRow(
                id=sensor_id, city="pg", name=sensor_id, agency="centre", lon=24.9, lat=60.2, interval_s=60,
                last_seen_at=None, last_values={}, silent_after=now, down_occurrence=None, created_at=now,
                updated_at=now))

    try:
        first.write_sync(register)
        # The second waits on the first one's alarm row, then sees its alarm open.
        _meanwhile(first, lambda s1: watches[0].apply(s1, [reading("R-1")], now=now),
                   second, lambda s2: watches[1].apply(s2, [reading("R-2")], now=now))
        raised = first.read_sync(lambda s: outbox_repo.unsent(s, limit=10))
        assert [(e.status.value, e.item("SENSORS")) for _, e, _ in raised] == [("10", "R-1"), ("40", "R-1,R-2")]
        assert len({e.occurrence for _, e, _ in raised}) == 1
    finally:
        first.close()
        second.close()


def _meanwhile(first: Database, own: Callable[[Session], object], second: Database,
               other: Callable[[Session], object]) -> None:
    """Run own in a transaction of the first database handle and, before it commits, other in a transaction of the
    second (another process's connection); other must finish without an error once the first has committed."""
    errors: list[BaseException] = []
    with first.sessions() as s1, s1.begin():
        own(s1)

        def other_process() -> None:
            try:
                second.write_sync(other)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_process)
        thread.start()
        thread.join(timeout=0.5)
    thread.join(timeout=10)
    assert errors == []
