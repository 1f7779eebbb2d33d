"""The bus and the live feed on a real NATS JetStream server, with API and worker roles in separate platforms."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import nats
import pytest
from sqlalchemy import func, select

from citylink.api.app import create_app
from citylink.api.schemas import EventIn
from citylink.bus.jetstream import JetStreamBus
from citylink.bus.nats_link import NatsLink
from citylink.bus.port import EventMessage
from citylink.geo.road_profiles import Profile
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store.tables import AuditRow, EventRow, GrantRow
from tests.api.test_units import FAR, SCENE
from tests.conftest import data_file, default_cameras, event_body
from tests.real_services import NATS_URL

pytestmark = pytest.mark.services


def _settings(tmp_path: Path, pg_url: str, namespace: str, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path, database_url=pg_url, nats_url=NATS_URL, nats_namespace=namespace,
                    **extra)  # type: ignore[arg-type]


def _count(platform: Platform, table: type) -> int:
    return int(platform.db.read_sync(lambda s: s.scalar(select(func.count()).select_from(table))) or 0)


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.open(settings)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


@asynccontextmanager
async def _api(settings: Settings) -> AsyncIterator[tuple[Platform, httpx.AsyncClient, dict[str, str]]]:
    platform = Platform.open(settings)
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield platform, client, {"Authorization": f"Bearer {keys['police']}"}


async def _until(predicate: object, timeout_s: float = 15.0) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_an_api_process_stores_and_a_worker_process_grants(tmp_path: Path, pg_url: str,
                                                                   nats_namespace: str) -> None:
    async with (_api(_settings(tmp_path, pg_url, nats_namespace, role="api")) as (api, client, police),
                _running(_settings(tmp_path, pg_url, nats_namespace, role="worker")) as worker):
        answer = await client.post("/api/v1/events", json=event_body(), headers=police)
        assert answer.status_code == 201
        await worker.wait_idle()
        incident = (await client.get(f"/api/v1/incidents/{answer.json()['incident_id']}", headers=police)).json()
        assert incident["cameras"][0]["id"] == "sees"
        assert [g["agency"] for g in incident["grants"]] == ["police"]
        # The worker's stream messages reach the API process's SSE hub through the broker, numbered by it.
        await _until(lambda: any(m.type == "grant.issued" for m in api.hub._recent))
        types = [m.type for m in api.hub._recent]
        assert types.index("incident.opened") < types.index("grant.issued")
        ids = [m.id for m in api.hub._recent]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_a_message_delivered_twice_has_one_effect(tmp_path: Path, pg_url: str, nats_namespace: str) -> None:
    settings = _settings(tmp_path, pg_url, nats_namespace)
    async with _api(settings) as (platform, client, police):
        answer = await client.post("/api/v1/events", json=event_body(), headers=police)
        await platform.wait_idle()
        before = (_count(platform, GrantRow), _count(platform, AuditRow))
        event = EventIn.model_validate(event_body()).to_event()
        # Without the Nats-Msg-Id header the stream keeps both copies: the handler must dedupe.
        nc = await nats.connect(NATS_URL)
        for _ in range(2):
            await nc.jetstream().publish(f"{nats_namespace}.events.helsinki.112UC001",
                                         EventMessage(event, "again", "opened").to_bytes())
        await nc.close()
        await platform.wait_idle()
        assert answer.status_code == 201
        assert (_count(platform, GrantRow), _count(platform, AuditRow)) == before


async def test_work_a_dead_worker_held_goes_to_another(tmp_path: Path, pg_url: str, nats_namespace: str) -> None:
    api_settings = _settings(tmp_path, pg_url, nats_namespace, role="api")
    async with _api(api_settings) as (api, client, police):
        # A worker that takes the event and never acknowledges it, then dies.
        link = NatsLink(NATS_URL, name="doomed", namespace=nats_namespace)
        doomed = JetStreamBus(link, ack_wait_s=1.0)
        taken = asyncio.Event()

        async def hang(_: object) -> None:
            taken.set()
            await asyncio.Event().wait()

        doomed.subscribe("doomed", frozenset({"112UC001"}), hang)
        await doomed.start()
        answer = await client.post("/api/v1/events", json=event_body(), headers=police)
        await asyncio.wait_for(taken.wait(), 10)
        await doomed.stop()
        await link.close()
        assert _count(api, GrantRow) == 0
        async with _running(_settings(tmp_path, pg_url, nats_namespace, role="worker")) as worker:
            await _until(lambda: _count(worker, GrantRow) == 1)
            await worker.wait_idle()
        dispatched = api.db.read_sync(lambda s: s.scalar(select(EventRow.dispatched)
                                                         .where(EventRow.id == answer.json()["event_id"])))
        assert dispatched is True and _count(api, GrantRow) == 1


async def test_a_worker_takes_only_its_cities(tmp_path: Path, pg_url: str, nats_namespace: str) -> None:
    api_settings = _settings(tmp_path, pg_url, nats_namespace, role="api")
    async with _api(api_settings) as (api, client, police):
        espoo_body = event_body(occurrence="E1")
        espoo_body["sender"]["city"] = "espoo"
        for body in (event_body(occurrence="H1"), espoo_body):
            assert (await client.post("/api/v1/events", json=body, headers=police)).status_code == 201
        async with _running(_settings(tmp_path, pg_url, nats_namespace, role="worker",
                                      worker_cities=("espoo",))) as espoo_worker:
            await espoo_worker.wait_idle()
            handled = api.db.read_sync(lambda s: {(row.payload["sender"]["city"], row.dispatched)
                                                  for row in s.execute(select(EventRow)).scalars()})
            assert handled == {("espoo", True), ("helsinki", False)}
        async with _running(_settings(tmp_path, pg_url, nats_namespace, role="worker",
                                      worker_cities=("helsinki",))) as helsinki_worker:
            await helsinki_worker.wait_idle()
            assert _count(api, GrantRow) == 2


async def test_every_api_process_hears_the_same_feed_with_the_same_ids(tmp_path: Path, pg_url: str,
                                                                          nats_namespace: str) -> None:
    async with _api(_settings(tmp_path, pg_url, nats_namespace, role="api")) as (first, client, police):
        async with (_running(_settings(tmp_path, pg_url, nats_namespace, role="api")) as second,
                    _running(_settings(tmp_path, pg_url, nats_namespace, role="worker")) as worker):
            assert (await client.post("/api/v1/events", json=event_body(), headers=police)).status_code == 201
            await worker.wait_idle()
            await _until(lambda: any(m.type == "grant.issued" for m in second.hub._recent))
            await _until(lambda: len(first.hub._recent) == len(second.hub._recent))
            # Same messages, same ids: an SSE client can reconnect to either with its Last-Event-ID.
            assert [(m.id, m.type) for m in first.hub._recent] == [(m.id, m.type) for m in second.hub._recent]
        # A process that starts later replays what the broker still holds, under the same ids.
        async with _running(_settings(tmp_path, pg_url, nats_namespace, role="api")) as late:
            await _until(lambda: len(late.hub._recent) == len(first.hub._recent))
            assert [m.id for m in late.hub._recent] == [m.id for m in first.hub._recent]


async def test_a_worker_plans_with_the_api_s_units_and_takes_its_traffic_reports(
        tmp_path: Path, pg_url: str, nats_namespace: str) -> None:
    routing = {"road_network_path": data_file("helsinki.osm.pbf")}
    async with (_api(_settings(tmp_path, pg_url, nats_namespace, role="api", **routing)) as (_, client, _),
                _running(_settings(tmp_path, pg_url, nats_namespace, role="worker", **routing)) as worker):
        keys = json.loads((tmp_path / "bootstrap-keys.json").read_text())
        fire, centre = ({"Authorization": f"Bearer {keys[k]}"} for k in ("fire", "centre"))
        unit = {"kind": "fire_engine", "name": "Engine 1", "location": {"lon": FAR[0], "lat": FAR[1]}}
        assert (await client.put("/api/v1/units/E1", json=unit, headers=fire)).status_code == 201
        call = event_body("119UC001", at=SCENE, sender={"system": "119", "city": "helsinki"})
        incident_id = (await client.post("/api/v1/events", json=call, headers=fire)).json()["incident_id"]
        await worker.wait_idle()
        detail = (await client.get(f"/api/v1/incidents/{incident_id}", headers=fire)).json()
        assert "unit:E1" in [r["id"] for r in detail["plans"]["dispatch"]["ranked"]]  # planned by the worker

        worker_plans = worker.routing()
        assert worker_plans is not None
        road = int(worker_plans.router(Profile.CAR).network.way_osm_id[0])
        closed = await client.put(f"/api/v1/traffic/ways/{road}", json={"speed_factor": 0}, headers=centre)
        assert closed.status_code == 200, closed.text
        edges = worker_plans.router(Profile.CAR).network.edges_of_way(road)
        # The report was made in the API process; the worker's router takes it through the feed.
        await _until(lambda: bool((worker_plans.router(Profile.CAR).speed_factor[edges] == 0).all()))
