"""Mobile units over the API: who may register and move them, what each agency sees, and how their positions
and states decide the dispatch plan (a busy unit is skipped, a silent tracker's unit is named as stale)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.api.test_routing_api import _get, _incident, routed
from tests.conftest import FakeClock, Harness

# Kruununhaka, Helsinki: a street with two fire hydrants mapped within 200 m.
SCENE = (24.9503, 60.1740)
NEAR = (24.9520, 60.1720)  # about 240 m away by air, under a minute by road
FAR = (24.9330, 60.1690)  # about 1.1 km away
STATION = "osm:r167018"  # Erottajan paloasema


async def _put(h: Harness, unit_id: str, caller: str, **body: Any) -> httpx.Response:
    return await h.client.put(f"/api/v1/units/{unit_id}", json=body, headers=h.auth(caller))


async def _patch(h: Harness, unit_id: str, caller: str, **body: Any) -> httpx.Response:
    return await h.client.patch(f"/api/v1/units/{unit_id}", json=body, headers=h.auth(caller))


def _at(spot: tuple[float, float]) -> dict[str, float]:
    return {"lon": spot[0], "lat": spot[1]}


async def test_agencies_register_and_move_their_own_units_only(tmp_path: Path) -> None:
    async with routed(tmp_path, "helsinki.osm.pbf", []) as h:
        first = await _put(h, "E11", "fire", kind="fire_engine", name="Engine 11", location=_at(FAR))
        assert first.status_code == 201, first.text
        assert first.json()["agency"] == "fire" and first.json()["state"] == "available"
        again = await _put(h, "E11", "fire", kind="fire_engine", name="Engine 11 (ladder)", location=_at(FAR))
        assert again.status_code == 200 and again.json()["name"] == "Engine 11 (ladder)"
        assert (await _put(h, "P7", "police", kind="patrol_car", name="Patrol 7")).status_code == 201

        # Another agency's unit: not movable, not re-registrable, not registrable in its name.
        denied = await _patch(h, "E11", "police", state="busy")
        assert denied.status_code == 403 and "another agency" in denied.json()["detail"]
        assert (await _put(h, "E11", "police", kind="patrol_car", name="Mine now")).status_code == 403
        assert (await _put(h, "E12", "police", kind="fire_engine", name="x", agency="fire")).status_code == 403
        # Centre staff dispatch anyone's units.
        assert (await _patch(h, "P7", "centre", state="dispatched", incident_id="abc")).json()["incident_id"] == "abc"

        # Each agency lists its own units; the centre sees all.
        def ids(response: httpx.Response) -> list[str]:
            return [u["id"] for u in response.json()["units"]]
        assert ids(await h.client.get("/api/v1/units", headers=h.auth("fire"))) == ["E11"]
        assert ids(await h.client.get("/api/v1/units", headers=h.auth("police"))) == ["P7"]
        assert ids(await h.client.get("/api/v1/units", headers=h.auth("centre"))) == ["E11", "P7"]
        busy = await h.client.get("/api/v1/units", params={"state": "dispatched"}, headers=h.auth("centre"))
        assert ids(busy) == ["P7"]

        # A position older than the known one (reports crossing on the network) is ignored.
        clock: FakeClock = h.platform.clock  # type: ignore[assignment]
        newer = (clock.now + timedelta(seconds=30)).isoformat()
        older = (clock.now - timedelta(seconds=30)).isoformat()
        moved = await _patch(h, "E11", "fire", location=_at(NEAR), time=newer)
        assert moved.json()["location"] == _at(NEAR)
        stale = await _patch(h, "E11", "fire", location=_at(FAR), time=older)
        assert stale.status_code == 200 and stale.json()["location"] == _at(NEAR)

        removed = await h.client.delete("/api/v1/units/P7", headers=h.auth("police"))
        assert removed.status_code == 204
        assert (await _patch(h, "P7", "police", state="busy")).status_code == 404

        audit = (await h.client.get("/api/v1/audit", params={"action": "unit.changed"},
                                    headers=h.auth("centre"))).json()
        details = [e["detail"] for e in audit]
        assert {"state": "dispatched", "incident": "abc"} in details and {"removed": True} in details


async def test_bad_unit_requests_name_the_field(tmp_path: Path) -> None:
    async with routed(tmp_path, "helsinki.osm.pbf", []) as h:
        bad_kind = await _put(h, "E1", "fire", kind="tank", name="x")
        assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "/kind"
        bad_place = await _put(h, "E1", "fire", kind="ambulance", name="x", location={"lon": 200, "lat": 60})
        assert bad_place.status_code == 422 and bad_place.json()["errors"][0]["field"] == "/location/lon"
        bad_id = await _put(h, "has space", "fire", kind="ambulance", name="x")
        assert bad_id.status_code == 422
        no_agency = await _put(h, "E1", "centre", kind="ambulance", name="x", agency="navy")
        assert no_agency.status_code == 422 and no_agency.json()["errors"][0]["field"] == "/agency"
        assert (await _put(h, "E1", "fire", kind="ambulance", name="A1")).status_code == 201
        empty = await _patch(h, "E1", "fire")
        assert empty.status_code == 422 and "location, a state, or both" in empty.json()["detail"]
        assert (await _patch(h, "E1", "fire", state="asleep")).json()["errors"][0]["field"] == "/state"
        stranger = await h.client.get("/api/v1/units", headers={"Authorization": "Bearer nope"})
        assert stranger.status_code == 401


async def test_dispatch_plan_ranks_available_units_by_road_and_names_hydrants(tmp_path: Path) -> None:
    async with routed(tmp_path, "helsinki.osm.pbf", []) as h:
        clock: FakeClock = h.platform.clock  # type: ignore[assignment]
        await _put(h, "E1", "fire", kind="fire_engine", name="Engine 1", location=_at(FAR))
        await _put(h, "E2", "fire", kind="fire_engine", name="Engine 2", location=_at(NEAR), state="busy")
        await _put(h, "A3", "fire", kind="ambulance", name="Ambulance 3", location=_at(NEAR),
                   time=(clock.now - timedelta(hours=1)).isoformat())
        await _put(h, "P4", "police", kind="patrol_car", name="Patrol 4", location=_at(NEAR))
        incident = await _incident(h, "119UC001", SCENE, "centre")

        plan = (await _get(h, f"{incident}/dispatch-plan", kind="fire", k=3)).json()
        # Engine 2 is nearer but busy, Ambulance 3's tracker has been silent for an hour, Patrol 4 is police;
        # Erottaja fire station (the extract's one) always takes part.
        ranked = {r["id"]: r for r in plan["ranked"]}
        assert ranked.keys() == {"unit:E1", STATION}
        assert (ranked["unit:E1"]["source"], ranked["unit:E1"]["unit_kind"]) == ("unit", "fire_engine")
        assert (ranked[STATION]["source"], ranked[STATION]["unit_kind"]) == ("station", None)
        assert [u["id"] for u in plan["stale_units"]] == ["unit:A3"]
        hydrants = [n for n in plan["nearby"] if n["kind"] == "fire_hydrant"]
        assert hydrants and all(n["distance_m"] <= 200 for n in plan["nearby"])
        assert [n["distance_m"] for n in plan["nearby"]] == sorted(n["distance_m"] for n in plan["nearby"])

        # Engine 2 comes free: nearer by road, it now ranks first.
        await _patch(h, "E2", "fire", state="available")
        again = (await _get(h, f"{incident}/dispatch-plan", kind="fire", k=3)).json()["ranked"]
        assert again[0]["id"] == "unit:E2" and {r["id"] for r in again} == {"unit:E2", "unit:E1", STATION}
        assert [r["eta_s"] for r in again] == sorted(r["eta_s"] for r in again)
        police = (await _get(h, f"{incident}/dispatch-plan", kind="police", k=3)).json()["ranked"]
        assert [r["id"] for r in police] == ["unit:P4"]
