"""The escape-route cordon: what is reachable in T minutes, and where it is left."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from citylink.geo.cordon import Cordon, cordon
from citylink.geo.road_profiles import Profile
from citylink.geo.roads import import_road_network
from citylink.geo.routing import Router
from citylink.geo.snapping import OffNetwork
from tests.geo.roads_fixtures import RAUTATIENTORI, dijkstra_from, helsinki, metres_to_lonlat, write_osm

ORIGIN = (25.0, 60.0)


def _cordon(router: Router, point: tuple[float, float], minutes: float) -> Cordon:
    answer = cordon(router, point, minutes=minutes)
    assert isinstance(answer, Cordon)
    return answer


@pytest.mark.parametrize("profile", [Profile.CAR, Profile.FOOT])
def test_cordon_grows_with_time(profile: Profile) -> None:
    router = Router(helsinki(profile))
    minutes = (0.25, 0.5, 1.0, 2.0) if profile is Profile.CAR else (1.0, 2.0, 4.0)
    cordons = [_cordon(router, RAUTATIENTORI, m) for m in minutes]
    lengths = [c.length_m for c in cordons]
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths)
    for smaller, larger in itertools.pairwise(cordons):
        assert set(smaller.nodes.tolist()) <= set(larger.nodes.tolist())
        assert larger.geometry.length > smaller.geometry.length
    assert all(c.exits for c in cordons)


def test_reached_nodes_are_within_the_time() -> None:
    router = Router(helsinki())
    c = _cordon(router, RAUTATIENTORI, 1.0)
    assert np.all(c.node_time_s <= 60.0)
    times = dijkstra_from(router, c.origin)
    assert np.array_equal(np.sort(c.nodes), np.flatnonzero(times <= 60.0))


def test_exits_are_cut_roads_leading_out() -> None:
    router = Router(helsinki())
    c = _cordon(router, RAUTATIENTORI, 1.0)
    net = router.network
    times = dijkstra_from(router, c.origin)
    for exit_ in c.exits:
        assert times[net.edge_to[exit_.edge]] > 60.0  # its far end is not reached in time
        assert exit_.edge in c.edges.tolist()
        # The cut point is where the time runs out: its head start plus the share of the edge it covers.
        piece = int(np.flatnonzero(c.edges == exit_.edge)[-1])
        if times[net.edge_from[exit_.edge]] < 60.0:
            spent = times[net.edge_from[exit_.edge]] + router.edge_time_s[exit_.edge] * c.end_m[piece] / (
                net.edge_length_m[exit_.edge])
            assert spent == pytest.approx(60.0, rel=1e-4)


def test_one_street_cordon_has_known_exits(tmp_path: Path) -> None:
    # A straight two-way street 2 km long at 36 km/h (10 m/s); from its middle, 1 minute reaches 600 m
    # each way: two exits 600 m from the start, nothing else.
    nodes = {i + 1: metres_to_lonlat(ORIGIN, i * 500.0, 0.0) for i in range(5)}
    path = write_osm(tmp_path / "street.osm", nodes,
                     [(1, [1, 2, 3, 4, 5], {"highway": "residential", "maxspeed": "36", "name": "Long Street"})],
                     node_tags={2: {"highway": "traffic_signals"}, 3: {"highway": "traffic_signals"},
                                4: {"highway": "traffic_signals"}})
    router = Router(import_road_network(path))
    c = _cordon(router, metres_to_lonlat(ORIGIN, 1000.0, 0.0), 1.0)
    assert c.length_m == pytest.approx(1200.0, rel=1e-3)
    assert sorted(e.lon for e in c.exits) == pytest.approx(
        [metres_to_lonlat(ORIGIN, 400.0, 0.0)[0], metres_to_lonlat(ORIGIN, 1600.0, 0.0)[0]], abs=1e-6)
    assert {e.name for e in c.exits} == {"Long Street"}
    feature_kinds = [f["properties"]["kind"] for f in c.to_geojson()["features"]]
    assert feature_kinds == ["reach", "exit", "exit"]


def test_off_network_and_bad_minutes() -> None:
    router = Router(helsinki())
    assert isinstance(cordon(router, metres_to_lonlat(RAUTATIENTORI, 0.0, 5000.0)), OffNetwork)
    with pytest.raises(ValueError, match="minutes"):
        cordon(router, RAUTATIENTORI, minutes=0.0)


def test_closed_roads_shrink_the_cordon() -> None:
    router = Router(helsinki())
    open_roads = _cordon(router, RAUTATIENTORI, 1.0)
    router.set_speed_factor(np.arange(router.network.n_edges), 0.5)
    congested = _cordon(router, RAUTATIENTORI, 1.0)
    assert congested.length_m < open_roads.length_m
