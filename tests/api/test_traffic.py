"""The live traffic hook over the API: a road reported closed or congested changes dispatch plans at once,
without rebuilding the network; clearing it restores them. Only centre staff report traffic."""

from __future__ import annotations

from pathlib import Path

from citylink.geo.road_profiles import Profile
from citylink.runtime.routing_plans import RoutingPlans
from citylink.store import traffic_repo
from tests.api.test_routing_api import _get, _incident, routed
from tests.api.test_units import FAR, SCENE, _at, _put
from tests.conftest import Harness, data_file


def _ways_on_route(h: Harness, start: tuple[float, float], end: tuple[float, float],
                   plans: RoutingPlans | None = None) -> list[int]:
    """The OSM ways the fastest car route between two points uses, in order, each once."""
    plans = plans or h.platform.routing()
    assert plans is not None
    router = plans.router(Profile.CAR)
    route = router.route(start, end)
    network = router.network
    ways = network.way_osm_id[network.link_way[network.edge_link[route.edges]]].tolist()  # type: ignore[union-attr]
    return list(dict.fromkeys(int(w) for w in ways))


async def _best(h: Harness, incident: str) -> dict[str, float]:
    plan = (await _get(h, f"{incident}/dispatch-plan", kind="fire", k=3)).json()
    [engine] = [r for r in plan["ranked"] if r["id"] == "unit:E1"]
    return {"eta_s": engine["eta_s"], "distance_m": engine["distance_m"]}


async def test_a_closed_or_congested_road_reroutes_and_clearing_it_restores(tmp_path: Path) -> None:
    async with routed(tmp_path, "helsinki.osm.pbf", []) as h:
        await _put(h, "E1", "fire", kind="fire_engine", name="Engine 1", location=_at(FAR))
        incident = await _incident(h, "119UC001", SCENE, "centre")
        free = await _best(h, incident)
        ways = _ways_on_route(h, FAR, SCENE)
        middle = ways[len(ways) // 2]  # a road in the middle of the route, not the one the unit stands on

        closed = await h.client.put(f"/api/v1/traffic/ways/{middle}", headers=h.auth("centre"),
                                    json={"speed_factor": 0, "reason": "road works"})
        assert closed.status_code == 200, closed.text
        assert closed.json()["closed"] and closed.json()["updated_by"] == "centre"
        detour = await _best(h, incident)
        assert detour["eta_s"] > free["eta_s"] and middle not in _ways_on_route(h, FAR, SCENE)
        # A process that loads the network later (a restart, another worker) takes the closure from the store.
        later = RoutingPlans(data_file("helsinki.osm.pbf"), cache_dir=tmp_path / "later",
                             traffic=lambda: h.platform.db.read_sync(traffic_repo.factors))
        assert middle not in _ways_on_route(h, FAR, SCENE, later)

        slowed = await h.client.put(f"/api/v1/traffic/ways/{middle}", headers=h.auth("centre"),
                                    json={"speed_factor": 0.8, "reason": "queue"})
        assert slowed.status_code == 200 and not slowed.json()["closed"]
        queued = await _best(h, incident)
        assert free["eta_s"] < queued["eta_s"] <= detour["eta_s"]
        listed = (await h.client.get("/api/v1/traffic", headers=h.auth("fire"))).json()["overrides"]
        assert [(o["way_osm_id"], o["speed_factor"], o["reason"]) for o in listed] == [(middle, 0.8, "queue")]

        assert (await h.client.delete(f"/api/v1/traffic/ways/{middle}", headers=h.auth("centre"))).status_code == 204
        assert await _best(h, incident) == free
        assert (await h.client.get("/api/v1/traffic", headers=h.auth("centre"))).json()["overrides"] == []

        audit = (await h.client.get("/api/v1/audit", params={"subject": f"way:{middle}"},
                                    headers=h.auth("centre"))).json()
        assert [e["detail"] for e in audit] == [{"speed_factor": 0.0, "reason": "road works"},
                                                {"speed_factor": 0.8, "reason": "queue"}, {"cleared": True}]


async def test_traffic_reports_are_checked(tmp_path: Path) -> None:
    async with routed(tmp_path, "helsinki.osm.pbf", []) as h:
        centre = h.auth("centre")
        road = _ways_on_route(h, FAR, SCENE)[0]
        denied = await h.client.put(f"/api/v1/traffic/ways/{road}", headers=h.auth("fire"), json={"speed_factor": 0})
        assert denied.status_code == 403
        for body, field in (({"speed_factor": -1}, "/speed_factor"), ({"speed_factor": "nan"}, "/speed_factor"),
                            ({}, "/speed_factor"), ({"speed_factor": 0.5, "lanes": 2}, "/lanes")):
            response = await h.client.put(f"/api/v1/traffic/ways/{road}", headers=centre, json=body)
            assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
        not_a_road = await h.client.put("/api/v1/traffic/ways/1", headers=centre, json={"speed_factor": 0})
        assert not_a_road.status_code == 404 and "not a road" in not_a_road.json()["detail"]
        nothing = await h.client.delete(f"/api/v1/traffic/ways/{road}", headers=centre)
        assert nothing.status_code == 404


async def test_without_a_road_network_traffic_says_so(harness: Harness) -> None:
    response = await harness.client.put("/api/v1/traffic/ways/4242", headers=harness.auth("centre"),
                                        json={"speed_factor": 0})
    assert response.status_code == 409 and "road_network_path" in response.json()["detail"]
