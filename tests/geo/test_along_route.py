"""Cameras, signals and streets along a route, in the order they are passed."""

from __future__ import annotations

import numpy as np
import osmium
import pytest

from citylink.geo.along_route import cameras_along_route, route_legs, signals_on_route
from citylink.geo.roads import import_road_network
from citylink.geo.route_results import Route
from citylink.geo.routing import Router
from tests.geo.roads_fixtures import HELSINKI_PBF, KAMPPI, SENAATINTORI, helsinki, metres_to_lonlat, write_osm

ORIGIN = (25.0, 60.0)


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory) -> Router:
    """Long Street: 2 km east from ORIGIN at 36 km/h (10 m/s), signals at 500, 1000 and 1500 m."""
    nodes = {i + 1: metres_to_lonlat(ORIGIN, i * 500.0, 0.0) for i in range(5)}
    signals = {i: {"highway": "traffic_signals"} for i in (2, 3, 4)}
    path = write_osm(tmp_path_factory.mktemp("street") / "street.osm", nodes,
                     [(1, [1, 2, 3, 4, 5], {"highway": "residential", "maxspeed": "36", "name": "Long Street"})],
                     node_tags=signals)
    return Router(import_road_network(path))


def _route(router: Router, a: tuple[float, float], b: tuple[float, float]) -> Route:
    route = router.route(a, b)
    assert isinstance(route, Route), route
    return route


def test_signals_with_passing_times(street: Router) -> None:
    route = _route(street, metres_to_lonlat(ORIGIN, 100.0, 0.0), metres_to_lonlat(ORIGIN, 1900.0, 0.0))
    signals = signals_on_route(street.network, route)
    assert [s.osm_id for s in signals] == [2, 3, 4]
    assert [s.along_m for s in signals] == pytest.approx([400.0, 900.0, 1400.0], rel=1e-3)
    assert [s.eta_s for s in signals] == pytest.approx([40.0, 90.0, 140.0], rel=1e-3)


def test_cameras_within_50_m_in_order_of_passing(street: Router) -> None:
    route = _route(street, metres_to_lonlat(ORIGIN, 100.0, 0.0), metres_to_lonlat(ORIGIN, 1900.0, 0.0))
    cams = {
        "late": metres_to_lonlat(ORIGIN, 1500.0, 30.0),
        "early": metres_to_lonlat(ORIGIN, 300.0, -45.0),
        "too-far": metres_to_lonlat(ORIGIN, 800.0, 70.0),
        "behind-the-start": metres_to_lonlat(ORIGIN, 0.0, 0.0),  # 100 m before the route begins
        "elsewhere": (139.0, 35.0),
    }
    ids = list(cams)
    passing = cameras_along_route(route, ids, [cams[i][0] for i in ids], [cams[i][1] for i in ids])
    assert [c.camera_id for c in passing] == ["early", "late"]
    early, late = passing
    assert early.distance_m == pytest.approx(45.0, abs=0.5) and late.distance_m == pytest.approx(30.0, abs=0.5)
    assert early.along_m == pytest.approx(200.0, abs=0.5) and late.along_m == pytest.approx(1400.0, abs=0.5)
    assert early.eta_s == pytest.approx(20.0, abs=0.1) and late.eta_s == pytest.approx(140.0, abs=0.1)
    wider = cameras_along_route(route, ids, [cams[i][0] for i in ids], [cams[i][1] for i in ids], within_m=80.0)
    assert [c.camera_id for c in wider] == ["early", "too-far", "late"]
    assert cameras_along_route(route, [], [], []) == []


def test_real_cameras_and_signals_on_a_helsinki_route() -> None:
    network = helsinki()
    route = _route(Router(network), KAMPPI, SENAATINTORI)
    ids, lon, lat = [], [], []
    for node in osmium.FileProcessor(str(HELSINKI_PBF), osmium.osm.NODE):
        if node.tags.get("man_made") == "surveillance":
            ids.append(str(node.id))
            lon.append(node.location.lon)
            lat.append(node.location.lat)
    passing = cameras_along_route(route, ids, lon, lat)
    assert passing, "central Helsinki has cameras along its main streets"
    assert all(c.distance_m <= 50.0 for c in passing)
    assert [c.along_m for c in passing] == sorted(c.along_m for c in passing)
    assert all(0.0 <= c.eta_s <= route.eta_s for c in passing)
    signals = signals_on_route(network, route)
    assert signals and all(network.node_signal[s.node] for s in signals)
    assert [s.eta_s for s in signals] == sorted(s.eta_s for s in signals)
    eta_by_node = dict(zip(route.nodes.tolist(), route.node_eta_s.tolist(), strict=True))
    assert all(s.eta_s == pytest.approx(eta_by_node[s.node]) for s in signals)


def test_route_legs_merge_a_street(street: Router) -> None:
    route = _route(street, metres_to_lonlat(ORIGIN, 100.0, 0.0), metres_to_lonlat(ORIGIN, 1900.0, 0.0))
    legs = route_legs(street.network, route)
    assert len(legs) == 1
    assert (legs[0].name, legs[0].road_class) == ("Long Street", "residential")
    assert legs[0].distance_m == pytest.approx(1800.0, rel=1e-3) and legs[0].eta_s == pytest.approx(180.0, rel=1e-3)
    assert np.isclose(route.eta_at_m(np.array([900.0]))[0], 90.0, rtol=1e-3)
