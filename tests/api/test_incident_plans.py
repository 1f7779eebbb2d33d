"""Plans made when an event arrives, on the real Helsinki data: a 119 call gets the dispatch plan (who is
there first by road, the route, the cameras and signals on it, hydrants at the scene) and the fire service is
told; a 112 report gets the escape-route cordon with the cameras to watch next, and a sighting elsewhere moves
it. Without a road network nothing is planned and nothing fails."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from citylink.adapters.osm_cameras import read_osm_cameras
from citylink.domain.agencies import Principal, Role
from tests.api.test_routing_api import _incident, routed
from tests.api.test_units import FAR, SCENE, _at, _put
from tests.conftest import SPOT, Harness, data_file, event_body


async def _plan_messages(h: Harness, incident_id: str) -> list[dict[str, Any]]:
    """The incident.plan messages the live stream has carried for the incident (replayed from the start)."""
    found: list[dict[str, Any]] = []
    centre = Principal(agency="centre", role=Role.OPERATOR, key_id="test")
    try:
        async with asyncio.timeout(0.5):
            async for message in h.platform.hub.listen(centre, last_event_id=0):
                if message.type == "incident.plan" and message.data["incident_id"] == incident_id:
                    found.append(message.data)
    except TimeoutError:
        pass
    return found


async def test_a_119_call_gets_the_dispatch_plan_and_the_fire_service_is_told(tmp_path: Path) -> None:
    async with routed(tmp_path, "helsinki.osm.pbf", []) as h:
        await _put(h, "E1", "fire", kind="fire_engine", name="Engine 1", location=_at(FAR))
        incident = await _incident(h, "119UC001", SCENE, "centre")

        detail = await h.incident(incident, "fire")  # the fire service sees its plan with the incident
        plan = detail["plans"]["dispatch"]
        assert detail["plans"]["cordon"] is None
        assert plan["from"] == _at(SCENE) and plan["computed_at"]
        best = plan["ranked"][0]
        assert best["id"] == "unit:E1" and best["route"]["type"] == "LineString"
        assert best["signals"] and [s["eta_s"] for s in best["signals"]] == sorted(s["eta_s"] for s in best["signals"])
        assert any(n["kind"] == "fire_hydrant" for n in plan["nearby"])

        told = [n for n in detail["notifications"] if n["recipient"] == "fire"]
        assert len(told) == 1
        minutes, seconds = divmod(round(best["eta_s"]), 60)
        assert told[0]["message"].startswith(f"Fastest by road: Engine 1, ETA {minutes}:{seconds:02d}")
        assert f"{len(best['signals'])} signals on the way" in told[0]["message"]
        messages = await _plan_messages(h, incident)
        assert [(m["kind"], m["summary"]) for m in messages] == [("dispatch", told[0]["message"])]

        # A later status update that does not move the scene does not plan again.
        update = event_body("119UC001", status="40", at=SCENE, content="second engine requested")
        assert (await h.post_event("centre", update)).status_code in (200, 201)
        await h.settle()
        assert len([n for n in (await h.incident(incident))["notifications"] if n["recipient"] == "fire"]) == 1


async def test_a_112_report_gets_a_cordon_that_follows_a_sighting(tmp_path: Path) -> None:
    cameras = read_osm_cameras(data_file("helsinki.osm.pbf")).cameras
    async with routed(tmp_path, "helsinki.osm.pbf", cameras) as h:
        incident = await _incident(h, "112UC001", SPOT, "police")
        first = (await h.incident(incident, "police"))["plans"]["cordon"]
        assert first["from"] == _at(SPOT) and first["mode"] == "car" and first["minutes"] == 3.0
        assert first["cameras"] and first["exits"] and "reach" not in first  # the roads come from GET .../cordon
        assert all(c["name"] for c in first["cameras"])

        sighting = event_body("112UC001", status="40", at=SCENE, content="suspect seen in Kruununhaka")
        assert (await h.post_event("police", sighting)).status_code in (200, 201)
        await h.settle()
        moved = (await h.incident(incident, "police"))["plans"]["cordon"]
        assert moved["from"] == _at(SCENE)
        assert [c["id"] for c in moved["cameras"]] != [c["id"] for c in first["cameras"]]
        plans = await _plan_messages(h, incident)
        assert [m["kind"] for m in plans] == ["cordon", "cordon"]
        assert plans[1]["summary"] == (f"3-minute escape cordon by car: {len(moved['exits'])} exits, "
                                       f"{len(moved['cameras'])} cameras to watch next")

        # Once the incident has ended a late sighting changes nothing.
        assert (await h.post_event("police", event_body("112UC001", status="90"))).status_code in (200, 201)
        await h.settle()
        late = event_body("112UC001", status="40", at=FAR)
        await h.post_event("police", late)
        await h.settle()
        assert (await h.incident(incident, "police"))["plans"]["cordon"]["from"] == _at(SCENE)


async def test_without_a_road_network_nothing_is_planned(harness: Harness) -> None:
    incident = await _incident(harness, "119UC001", SPOT, "centre")
    detail = await harness.incident(incident)
    assert detail["plans"] == {"dispatch": None, "cordon": None}
    assert detail["grants"] and not [n for n in detail["notifications"] if n["recipient"] == "fire"]
