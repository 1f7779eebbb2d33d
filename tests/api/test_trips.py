"""Safe return home end to end: a registered walk, positions, an alert on leaving the route, on SOS or when
overdue (a timer that survives a restart), the cameras following the walker, arrival telling the guardian,
an escort requested by an operator, and a quiet close when nothing went wrong."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from citylink.api.app import create_app
from citylink.geo.corridor import distance_from_path_m
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from tests.conftest import SPOT, FakeClock, Harness, default_cameras, offset

HOME = offset(*SPOT, east_m=800)
ON_ROUTE = offset(*SPOT, east_m=300, north_m=40)
OFF_ROUTE = offset(*SPOT, east_m=300, north_m=400)
GUARDIAN = "+358401112233"


def _at(point: tuple[float, float]) -> dict[str, float]:
    return {"lon": point[0], "lat": point[1]}


async def _register(h: Harness, clock: FakeClock, *, minutes: int = 20, **extra: Any) -> dict[str, Any]:
    body = {"person_ref": "walker-17", "guardian_phone": GUARDIAN, "from": _at(SPOT), "to": _at(HOME),
            "expected_arrival": (clock.now + timedelta(minutes=minutes)).isoformat(), **extra}
    response = await h.client.post("/api/v1/trips", json=body, headers=h.auth("welfare"))
    assert response.status_code == 201, response.text
    trip: dict[str, Any] = response.json()
    return trip


async def _send(h: Harness, trip_id: str, what: str, clock: FakeClock, seconds: int, **body: Any) -> dict[str, Any]:
    response = await h.client.post(f"/api/v1/trips/{trip_id}/{what}", headers=h.auth("welfare"),
                                   json={"time": (clock.now + timedelta(seconds=seconds)).isoformat(), **body})
    assert response.status_code in (200, 201), response.text
    await h.settle()
    trip: dict[str, Any] = response.json()
    return trip


async def _alerts(h: Harness) -> list[dict[str, Any]]:
    listed = (await h.client.get("/api/v1/incidents", params={"code": "POCCP103"}, headers=h.auth("centre"))).json()
    return [await h.incident(i["id"]) for i in listed]


async def test_leaving_the_route_alerts_the_centre_and_the_guardian_and_arrival_ends_it(
        harness: Harness, clock: FakeClock) -> None:
    h = harness
    trip = await _register(h, clock)
    assert trip["path_kind"] == "straight line" and trip["state"] == "active"  # no road network configured
    assert trip["due_at"] == (clock.now + timedelta(minutes=30)).isoformat()  # 20 min + 10 min grace
    assert GUARDIAN not in json.dumps(trip)

    assert (await _send(h, trip["id"], "positions", clock, 60, location=_at(ON_ROUTE)))["state"] == "active"
    assert await _alerts(h) == []
    alerted = await _send(h, trip["id"], "positions", clock, 120, location=_at(OFF_ROUTE))
    assert (alerted["state"], alerted["alert"]) == ("alerted", "deviation")

    [incident] = await _alerts(h)
    assert incident["id"] == alerted["incident_id"] and incident["location"] == _at(OFF_ROUTE)
    assert incident["cameras"] and [g["agency"] for g in incident["grants"]] == ["centre"]
    told = {n["recipient"]: n["message"] for n in incident["notifications"]}
    assert told["centre"].startswith("Safe return home: left the expected route at ")
    assert "police escort can be requested" in told["centre"]
    assert told["guardian"] == "Safe return home: left the expected route; the city operations centre is watching"
    assert GUARDIAN not in json.dumps(incident["notifications"])

    # The walker keeps moving: the incident follows. Then home: it ends and the guardian hears it.
    await _send(h, trip["id"], "positions", clock, 180, location=_at(SPOT))
    assert (await h.incident(incident["id"]))["location"] == _at(SPOT)
    home = await _send(h, trip["id"], "positions", clock, 600, location=_at(HOME))
    assert home["state"] == "arrived"
    ended = await h.incident(incident["id"])
    assert ended["ended_at"] is not None and all(g["revoked"] for g in ended["grants"])
    assert "Arrived safely; the alert is closed" in [n["message"] for n in ended["notifications"]]
    late = await h.client.post(f"/api/v1/trips/{trip['id']}/sos", headers=h.auth("welfare"),
                               json={"time": (clock.now + timedelta(seconds=700)).isoformat()})
    assert late.status_code == 409


async def test_a_walk_that_goes_well_closes_quietly(harness: Harness, clock: FakeClock) -> None:
    trip = await _register(harness, clock)
    await _send(harness, trip["id"], "positions", clock, 60, location=_at(ON_ROUTE))
    done = await _send(harness, trip["id"], "arrived", clock, 300)
    assert done["state"] == "arrived" and done["incident_id"] is None
    assert await _alerts(harness) == []
    harness.platform.clock.now += timedelta(hours=2)  # type: ignore[attr-defined]
    assert await harness.platform.safe_return.check_overdue() == 0  # arrived trips are never overdue


async def test_sos_alerts_and_an_operator_can_send_a_police_escort(harness: Harness, clock: FakeClock) -> None:
    h = harness
    trip = await _register(h, clock)
    early = await h.client.post(f"/api/v1/trips/{trip['id']}/escort", headers=h.auth("centre"))
    assert early.status_code == 409  # nothing to escort yet
    sos = await _send(h, trip["id"], "sos", clock, 90, location=_at(ON_ROUTE))
    assert sos["alert"] == "sos"
    denied = await h.client.post(f"/api/v1/trips/{trip['id']}/escort", headers=h.auth("welfare"))
    assert denied.status_code == 403  # the app's backend does not dispatch the police
    escort = await h.client.post(f"/api/v1/trips/{trip['id']}/escort", headers=h.auth("centre"))
    assert escort.status_code == 201, escort.text
    await h.settle()
    incident = await h.incident(sos["incident_id"], "police")
    assert "police" in [g["agency"] for g in incident["grants"]]
    assert any(n["recipient"] == "police" and n["message"].startswith("Escort requested")
               for n in incident["notifications"])


async def test_an_overdue_walk_alerts_once_even_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    clock = FakeClock()

    async def running() -> tuple[Platform, Any]:
        platform = Platform.open(settings, clock=clock)
        app = create_app(settings, platform_factory=lambda _: platform)
        return platform, app

    platform, app = await running()
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            trip = await _register(Harness(platform, client, keys), clock, minutes=15)
    # The server stops; the walker never arrives; the server comes back 40 minutes later.
    clock.now += timedelta(minutes=40)
    platform, app = await running()
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        h = Harness(platform, client, keys)
        assert await platform.safe_return.check_overdue() == 1
        assert await platform.safe_return.check_overdue() == 0  # alerted already
        await h.settle()
        [incident] = await _alerts(h)
        assert incident["location"] == _at(SPOT)  # no position ever came: where the walk began
        told = [n["message"] for n in incident["notifications"] if n["recipient"] == "centre"]
        assert told and told[0].startswith("Safe return home: not arrived on time")
        got = (await client.get(f"/api/v1/trips/{trip['id']}", headers=h.auth("welfare"))).json()
        assert (got["state"], got["alert"]) == ("alerted", "overdue")


async def test_trips_are_checked_and_private(harness: Harness, clock: FakeClock) -> None:
    h = harness
    past = await h.client.post("/api/v1/trips", headers=h.auth("welfare"), json={
        "person_ref": "w", "guardian_phone": GUARDIAN, "from": _at(SPOT), "to": _at(HOME),
        "expected_arrival": (clock.now - timedelta(minutes=1)).isoformat()})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "/expected_arrival"
    bad = await h.client.post("/api/v1/trips", headers=h.auth("welfare"), json={
        "person_ref": "w", "guardian_phone": GUARDIAN, "from": {"lon": 24.9, "lat": 95}, "to": _at(HOME),
        "expected_arrival": (clock.now + timedelta(minutes=10)).isoformat()})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/from/lat"
    trip = await _register(h, clock)
    assert (await h.client.get(f"/api/v1/trips/{trip['id']}", headers=h.auth("fire"))).status_code == 404
    assert (await h.client.get(f"/api/v1/trips/{trip['id']}", headers=h.auth("centre"))).status_code == 200
    assert (await h.client.get("/api/v1/trips/nope", headers=h.auth("welfare"))).status_code == 404


async def test_with_a_road_network_the_corridor_follows_the_walking_route(tmp_path: Path) -> None:
    from tests.api.test_routing_api import routed

    async with routed(tmp_path, "helsinki.osm.pbf", default_cameras()) as h:
        clock: FakeClock = h.platform.clock  # type: ignore[assignment]
        trip = await _register(h, clock, corridor_m=25)
        path = trip["path"]["coordinates"]
        assert trip["path_kind"] == "walking route" and len(path) > 3
        assert path[0] == list(SPOT) and path[-1] == list(HOME)
        # The point of the walking route farthest from the straight line: off a straight corridor, inside this one.
        bend = max(path, key=lambda p: distance_from_path_m([SPOT, HOME], p[0], p[1]))
        assert distance_from_path_m([SPOT, HOME], bend[0], bend[1]) > 25
        moved = await _send(h, trip["id"], "positions", clock, 60, location={"lon": bend[0], "lat": bend[1]})
        assert moved["state"] == "active"
