"""Dispatch plans and cordons over the API, on the real road networks of Montevideo and central Helsinki.

The Helsinki extract has one fire station and no police stations or hospitals, so dispatch plans are tested
on Montevideo's and the cordon with its exit cameras on Helsinki's 221 real cameras.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from citylink.adapters.osm_cameras import read_osm_cameras
from citylink.api.app import create_app
from citylink.domain.cameras import Camera
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from tests.conftest import SPOT, FakeClock, Harness, data_file, event_body

# Montevideo, about 1.6 km east-north-east of the Cuartel de Bomberos.
MONTEVIDEO_SPOT = (-56.1650, -34.8950)


@asynccontextmanager
async def routed(tmp_path: Path, pbf: str, cameras: list[Camera]) -> AsyncIterator[Harness]:
    """The conftest harness with road_network_path set."""
    settings = Settings(data_dir=tmp_path / "data", road_network_path=data_file(pbf))
    platform = Platform.open(settings, clock=FakeClock())
    await platform.save_cameras(cameras, actor="test", source="fixture")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://citylink.test") as client:
            yield Harness(platform, client, keys)


async def _incident(h: Harness, code: str, at: tuple[float, float], agency: str) -> str:
    response = await h.post_event(agency, event_body(code, at=at))
    assert response.status_code == 201, response.text
    await h.settle()
    incident_id: str = response.json()["incident_id"]
    return incident_id


async def _get(h: Harness, path: str, agency: str = "centre", **params: Any) -> httpx.Response:
    return await h.client.get(f"/api/v1/incidents/{path}", params=params, headers=h.auth(agency))


async def test_fire_stations_ranked_by_road_eta_with_route_cameras_and_signals(tmp_path: Path) -> None:
    async with routed(tmp_path, "montevideo-drive.osm.pbf", []) as h:
        incident = await _incident(h, "119UC001", MONTEVIDEO_SPOT, "centre")
        response = await _get(h, f"{incident}/dispatch-plan", kind="fire", k=3)
        assert response.status_code == 200, response.text
        plan = response.json()
        ranked = plan["ranked"]
        assert plan["kind"] == "fire" and plan["note"] is None and len(ranked) == 3
        assert ranked[0]["name"] == "Cuartel de Bomberos"
        etas = [r["eta_s"] for r in ranked]
        assert etas == sorted(etas) and 60 < etas[0] < 600
        for item in ranked:
            assert item["distance_m"] >= item["straight_m"] > 0  # by road is never shorter than straight
            assert item["route"]["type"] == "LineString" and len(item["route"]["coordinates"]) > 2
            times = [s["eta_s"] for s in item["signals"]]
            assert times == sorted(times) and all(0 <= t <= item["eta_s"] for t in times)
        assert ranked[0]["cameras"] == []  # Montevideo's four cameras are elsewhere
        assert [p.name.split("-")[:3] for p in (tmp_path / "data" / "roads").glob("*.npz")] == [
            ["montevideo", "drive.osm.pbf", "car"]]  # imported once, cached in the data directory

        # Cameras next to the first route, added in reverse order of passing, come back in passing order.
        coords = ranked[0]["route"]["coordinates"]
        late, early = coords[2 * len(coords) // 3], coords[len(coords) // 3]
        await h.platform.save_cameras([Camera(id="late", name="Late", lon=late[0], lat=late[1]),
                                       Camera(id="early", name="Early", lon=early[0], lat=early[1])],
                                      actor="test", source="fixture")
        again = (await _get(h, f"{incident}/dispatch-plan", kind="fire", k=1)).json()["ranked"]
        assert len(again) == 1
        passed = again[0]["cameras"]
        assert [(c["id"], c["name"]) for c in passed] == [("early", "Early"), ("late", "Late")]
        assert 0 < passed[0]["eta_s"] < passed[1]["eta_s"] < again[0]["eta_s"]
        assert all(c["distance_m"] <= 50 for c in passed)


async def test_an_incident_off_the_network_and_a_city_without_the_facilities_are_answered(tmp_path: Path) -> None:
    async with routed(tmp_path / "mvd", "montevideo-drive.osm.pbf", []) as h:
        far = await _incident(h, "119UC001", SPOT, "centre")  # Helsinki, nowhere near Montevideo's roads
        plan = (await _get(h, f"{far}/dispatch-plan", kind="hospital")).json()
        assert plan["ranked"] == [] and "no road within" in plan["note"]
        reach = (await _get(h, f"{far}/cordon")).json()
        assert reach["cameras"] == [] and reach["exits"] == [] and "too far from any road" in reach["note"]
    async with routed(tmp_path / "hel", "helsinki.osm.pbf", []) as h:
        incident = await _incident(h, "119UC001", SPOT, "centre")
        plan = (await _get(h, f"{incident}/dispatch-plan", kind="police")).json()
        assert plan["ranked"] == [] and plan["note"] == (
            "no police stations in helsinki.osm.pbf and no available police units")


async def test_the_cordon_grows_with_minutes_and_names_the_exit_cameras(tmp_path: Path) -> None:
    cameras = read_osm_cameras(data_file("helsinki.osm.pbf")).cameras
    async with routed(tmp_path, "helsinki.osm.pbf", cameras) as h:
        incident = await _incident(h, "112UC001", SPOT, "police")
        short = (await _get(h, f"{incident}/cordon", "police", minutes=0.5)).json()
        longer = (await _get(h, f"{incident}/cordon", "police", minutes=1)).json()
        assert short["mode"] == "car" and short["minutes"] == 0.5
        assert 0 < short["length_m"] < longer["length_m"]
        kinds = [f["properties"]["kind"] for f in short["reach"]["features"]]
        assert kinds[0] == "reach" and kinds.count("exit") == len(short["exits"]) > 0
        watch = short["cameras"]
        assert watch and len({c["id"] for c in watch}) == len(watch)  # one entry per camera
        entered = [c["entered_s"] for c in watch]
        assert entered == sorted(entered) and all(0 <= t <= 30 for t in entered)
        assert all(c["distance_m"] <= 120 and c["name"] for c in watch)
        on_foot = (await _get(h, f"{incident}/cordon", "police", minutes=1, mode="foot")).json()
        assert on_foot["mode"] == "foot" and 0 < on_foot["length_m"] < longer["length_m"]


async def test_without_a_road_network_routing_says_so(harness: Harness) -> None:
    incident = await _incident(harness, "119UC001", SPOT, "centre")
    for path, params in ((f"{incident}/dispatch-plan", {"kind": "fire"}), (f"{incident}/cordon", {})):
        response = await _get(harness, path, **params)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert "road_network_path" in response.json()["detail"]


async def test_bad_parameters_are_refused_naming_the_parameter(harness: Harness) -> None:
    incident = await _incident(harness, "119UC001", SPOT, "centre")
    for path, params, field in (
        ("dispatch-plan", {}, "/query/kind"),
        ("dispatch-plan", {"kind": "boat"}, "/query/kind"),
        ("dispatch-plan", {"kind": "fire", "k": 0}, "/query/k"),
        ("dispatch-plan", {"kind": "fire", "k": "many"}, "/query/k"),
        ("cordon", {"minutes": 0}, "/query/minutes"),
        ("cordon", {"minutes": "nan"}, "/query/minutes"),
        ("cordon", {"minutes": 1000}, "/query/minutes"),
        ("cordon", {"mode": "plane"}, "/query/mode"),
    ):
        response = await _get(harness, f"{incident}/{path}", **params)
        assert response.status_code == 422, (path, params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_an_agency_sees_routing_only_for_incidents_it_may_read(harness: Harness) -> None:
    robbery = await _incident(harness, "112UC001", SPOT, "police")  # police's, not fire's
    for path, params in (("dispatch-plan", {"kind": "police"}), ("cordon", {})):
        hidden = await _get(harness, f"{robbery}/{path}", "fire", **params)
        assert hidden.status_code == 404 and hidden.json()["errors"][0]["field"] == "/incident_id"
        missing = await _get(harness, f"no-such-incident/{path}", "centre", **params)
        assert missing.status_code == 404
        # Allowed callers get past the access check (here to "no road network").
        assert (await _get(harness, f"{robbery}/{path}", "police", **params)).status_code == 409
