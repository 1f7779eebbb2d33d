"""Routes and unit ranking on the real Helsinki network, and on constructed maps where the answer is known."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csgraph, csr_matrix

from citylink.geo.along_route import route_legs
from citylink.geo.distance import haversine_m
from citylink.geo.road_profiles import Profile
from citylink.geo.roads import RoadNetwork, import_road_network
from citylink.geo.route_results import NoRoute, NoRouteReason, Route, UnitRanking
from citylink.geo.routing import Router
from citylink.geo.snapping import Snap, Snapper
from tests.geo.roads_fixtures import (
    BULEVARDI,
    KAMPPI,
    RAUTATIENTORI,
    SENAATINTORI,
    SIMONKATU_WAY,
    dijkstra_from,
    helsinki,
    metres_to_lonlat,
    write_osm,
)

ORIGIN = (25.0, 60.0)


@pytest.fixture
def router() -> Router:
    return Router(helsinki())


def _route(router: Router, a: tuple[float, float], b: tuple[float, float]) -> Route:
    route = router.route(a, b)
    assert isinstance(route, Route), route
    return route


@pytest.mark.parametrize(
    ("origin", "destination", "streets"),
    [
        # Hand-checked on the map: north-east out of the station square, along the one-way Kaivokatu, up
        # Mikonkatu, east on Yliopistonkatu, north on Unioninkatu into Hallituskatu at the Senate Square.
        (RAUTATIENTORI, SENAATINTORI, ["Kaivokatu", "Mikonkatu", "Yliopistonkatu", "Unioninkatu", "Hallituskatu"]),
        # From Kamppi east along Yrjönkatu and Simonkatu to Kaivokatu, then the same way to the square.
        (KAMPPI, SENAATINTORI, ["Yrjönkatu", "Simonkatu", "Kaivokatu", "Unioninkatu", "Hallituskatu"]),
        # Bulevardi east, the one-way Eteläesplanadi, Fabianinkatu north, Aleksanterinkatu, Unioninkatu.
        (BULEVARDI, SENAATINTORI, ["Bulevardi", "Eteläesplanadi", "Fabianinkatu", "Unioninkatu", "Hallituskatu"]),
    ],
)
def test_known_routes(router: Router, origin: tuple[float, float], destination: tuple[float, float],
                      streets: list[str]) -> None:
    route = _route(router, origin, destination)
    straight = haversine_m(route.origin.lon, route.origin.lat, route.destination.lon, route.destination.lat)
    assert 1.0 <= route.distance_m / straight <= 2.0
    names = [leg.name for leg in route_legs(router.network, route)]
    assert [n for i, n in enumerate(names) if n in streets and n not in names[:i]] == streets
    # The geometry runs from snapped point to snapped point, as long as the route says.
    assert route.geometry.coords[0] == pytest.approx((route.origin.lon, route.origin.lat))
    assert route.geometry.coords[-1] == pytest.approx((route.destination.lon, route.destination.lat))
    assert haversine_total(np.asarray(route.geometry.coords)) == pytest.approx(route.distance_m, rel=1e-3)
    # Plausible city ETA: between 15 and 60 km/h on average.
    assert 15 / 3.6 <= route.distance_m / route.eta_s <= 60 / 3.6


def haversine_total(coords: np.ndarray) -> float:
    return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(coords))


def test_route_times_match_a_full_dijkstra(router: Router) -> None:
    route = _route(router, KAMPPI, SENAATINTORI)
    times = dijkstra_from(router, route.origin)
    assert np.allclose(route.node_eta_s, times[route.nodes])
    assert router.eta_between(route.origin, route.destination) == pytest.approx(route.eta_s)
    assert route.eta_s == pytest.approx(
        min(times[router.network.edge_from[e]] + router.edge_time_s[e] * o / router.network.edge_length_m[e]
            for e, o in route.destination.placements())
    )


def _point_along(net: RoadNetwork, edges: np.ndarray, at_m: float) -> tuple[float, float]:
    """The point at_m metres along consecutive edges."""
    lengths = net.edge_length_m[edges].astype(np.float64)
    i = int(np.searchsorted(np.cumsum(lengths), at_m))
    offset = np.array([at_m - (np.cumsum(lengths)[i] - lengths[i])])
    coords, _ = net.edge_coords(edges[[i]], offset, offset)
    return float(coords[0, 0]), float(coords[0, 1])


def test_route_search_matches_one_full_dijkstra(router: Router) -> None:
    net = router.network
    rng = np.random.default_rng(7)
    for _ in range(60):
        a = router.snapper.snap(*metres_to_lonlat(RAUTATIENTORI, *rng.uniform([-400, -700], [400, 700])))
        b = router.snapper.snap(*metres_to_lonlat(RAUTATIENTORI, *rng.uniform([-400, -700], [400, 700])))
        assert isinstance(a, Snap) and isinstance(b, Snap)
        times = dijkstra_from(router, a)
        expected = min(times[net.edge_from[e]] + router.edge_time_s[e] * o / net.edge_length_m[e]
                       for e, o in b.placements())
        for e, o in a.placements():  # straight along a shared edge
            for f, p in b.placements():
                if e == f and p >= o:
                    expected = min(expected, router.edge_time_s[e] * (p - o) / net.edge_length_m[e])
        route = router.route_between(a, b)
        assert isinstance(route, Route)
        assert route.eta_s == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert router.eta_between(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert np.all(np.isin(route.nodes, np.flatnonzero(np.isfinite(times))))


def test_one_way_street_is_not_driven_against(router: Router) -> None:
    net = router.network
    edges = net.edges_of_way(SIMONKATU_WAY)
    simonkatu = edges[np.argsort(net.edge_link[edges])]  # links are numbered in the way's node order
    length = float(net.edge_length_m[simonkatu].sum())
    start, end = _point_along(net, simonkatu, 15.0), _point_along(net, simonkatu, length - 15.0)
    along = _route(router, start, end)
    assert set(along.edges.tolist()) <= set(simonkatu.tolist())  # straight along it
    assert along.distance_m == pytest.approx(length - 30.0, abs=1.0)
    against = _route(router, end, start)
    # It finishes the way forwards, goes round the block and comes back in at the way's start.
    on_way = np.isin(against.edges, simonkatu)
    off = np.flatnonzero(~on_way)
    assert not on_way[off[0] : off[-1] + 1].any()
    assert against.edges[-1] == simonkatu[0] and against.edges[0] != simonkatu[0]
    assert against.distance_m > 3 * length
    # On foot the same street is walked straight back.
    walk = Router(helsinki(Profile.FOOT)).route(end, start)
    assert isinstance(walk, Route) and walk.distance_m < 1.2 * length


def test_unreachable_target_is_a_clear_answer() -> None:
    net = helsinki()
    router = Router(net, Snapper(net, main_component_only=False))
    n = net.n_nodes
    graph = csr_matrix((np.ones(net.n_edges), (net.edge_from, net.edge_to)), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=True, connection="strong")
    main = label == np.bincount(label).argmax()
    # An edge into a node from which the main part of the network cannot be reached: a clipped stub.
    stub = int(np.flatnonzero(main[net.edge_from] & ~main[net.edge_to])[0])
    coords, _ = net.edge_coords(np.array([stub]), np.array([0.5]), np.array([0.5]))
    src = router.snapper.snap(*RAUTATIENTORI)
    assert isinstance(src, Snap)
    sink = Snap(float(coords[0, 0]), float(coords[0, 1]), 0.0, int(net.edge_link[stub]), stub, 0.5, -1, 0.0)
    assert isinstance(router.route_between(src, sink), Route)  # into the stub is fine
    answer = router.route_between(sink, src)
    assert router.eta_between(sink, src) == float("inf")
    assert answer == NoRoute(NoRouteReason.UNREACHABLE, "no road path from the origin to the destination")


def test_off_network_endpoints(router: Router) -> None:
    sea = metres_to_lonlat(RAUTATIENTORI, 0.0, 5000.0)
    assert isinstance(router.route(sea, KAMPPI), NoRoute)
    assert router.route(sea, KAMPPI).reason is NoRouteReason.ORIGIN_OFF_NETWORK  # type: ignore[union-attr]
    assert router.route(KAMPPI, sea).reason is NoRouteReason.DESTINATION_OFF_NETWORK  # type: ignore[union-attr]


def test_same_edge_goes_straight_along_it(router: Router) -> None:
    net = router.network
    edge = int(np.argmax(net.edge_length_m))
    coords, _ = net.edge_coords(np.array([edge, edge]), np.array([10.0, 40.0]), np.array([10.0, 40.0]))
    route = _route(router, tuple(coords[0]), tuple(coords[2]))
    assert route.distance_m == pytest.approx(30.0, abs=0.5)
    assert route.nodes.shape[0] == 0


def test_queries_from_several_threads_agree(router: Router) -> None:
    rng = np.random.default_rng(3)
    pairs = [(metres_to_lonlat(RAUTATIENTORI, *rng.uniform(-500, 500, 2)),
              metres_to_lonlat(SENAATINTORI, *rng.uniform(-300, 300, 2))) for _ in range(40)]
    alone = [router.route(a, b) for a, b in pairs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda pair: router.route(*pair), pairs))
    for one, other in zip(alone, together, strict=True):
        assert isinstance(one, Route) and isinstance(other, Route)
        assert np.array_equal(one.edges, other.edges) and one.eta_s == other.eta_s


# -- traffic ------------------------------------------------------------------------------------------------


def test_closure_detours_and_clearing_restores(router: Router) -> None:
    before = _route(router, KAMPPI, SENAATINTORI)
    closed = int(before.edges[before.edges.shape[0] // 2])
    router.close([closed])
    detour = _route(router, KAMPPI, SENAATINTORI)
    assert detour.eta_s > before.eta_s
    assert closed not in detour.edges.tolist()
    assert np.isinf(router.edge_time_s[closed])
    router.clear_traffic()
    again = _route(router, KAMPPI, SENAATINTORI)
    assert again.eta_s == pytest.approx(before.eta_s) and np.array_equal(again.edges, before.edges)
    assert before.time_s.sum() == pytest.approx(before.eta_s)  # an answer keeps the weights it was given


def test_congestion_slows_the_edges_it_covers(router: Router) -> None:
    net = router.network
    edge = int(np.argmax(net.edge_length_m))
    coords, _ = net.edge_coords(np.array([edge, edge]), np.array([5.0, 60.0]), np.array([5.0, 60.0]))
    free = _route(router, tuple(coords[0]), tuple(coords[2]))
    router.set_speed_factor([edge], 0.5)
    slow = _route(router, tuple(coords[0]), tuple(coords[2]))
    assert slow.eta_s == pytest.approx(2 * free.eta_s)
    assert router.speed_factor[edge] == 0.5 and not router.speed_factor.flags.writeable
    router.clear_traffic([edge])
    assert router.speed_factor[edge] == 1.0
    with pytest.raises(ValueError, match="speed factors"):
        router.set_speed_factor([edge], -1.0)
    with pytest.raises(ValueError, match="edge ids"):
        router.close([net.n_edges])


def test_a_point_where_a_closed_road_ends_still_leaves_by_the_others(router: Router) -> None:
    # Snapped onto a junction: at the end of one edge and the start of its twin. Closing both must not make the
    # junction unreachable from the point standing on it (inf × 0 once made it NaN, in both directions).
    net = router.network
    junction = int(np.argmax(np.bincount(net.edge_from, minlength=net.n_nodes)))
    point = router.snapper.snap(float(net.node_lon[junction]), float(net.node_lat[junction]))
    assert isinstance(point, Snap) and point.distance_m < 0.01
    router.close([e for e, _ in point.placements()])
    times = router.times_from(point, limit_s=120.0)
    assert times[junction] == 0.0 and np.isfinite(times).sum() > 10
    somewhere = router.snapper.snap(*KAMPPI)
    assert isinstance(somewhere, Snap)
    assert np.isfinite(router.etas_to(point, [somewhere], k=1)[0])


# -- units ------------------------------------------------------------------------------------------------


def _river_town(tmp_path: Path) -> Router:
    """Two parallel streets 300 m apart with a river between, joined only by a bridge 2 km east.

    North Street y=300 from x=0 to 3000, South Street y=0 likewise, the bridge at x=3000.
    """
    def at(x: float, y: float) -> tuple[float, float]:
        return metres_to_lonlat(ORIGIN, x, y)

    xs = range(0, 3001, 250)
    nodes = {100 + i: at(x, 0.0) for i, x in enumerate(xs)} | {200 + i: at(x, 300.0) for i, x in enumerate(xs)}
    last = len(xs) - 1
    ways = [
        (1, [100 + i for i in range(last + 1)], {"highway": "residential", "name": "South Street", "maxspeed": "50"}),
        (2, [200 + i for i in range(last + 1)], {"highway": "residential", "name": "North Street", "maxspeed": "50"}),
        (3, [100 + last, 200 + last], {"highway": "residential", "name": "Bridge", "maxspeed": "50"}),
    ]
    return Router(import_road_network(write_osm(tmp_path / "river.osm", nodes, ways)))


def test_eta_ranking_beats_straight_line(tmp_path: Path) -> None:
    router = _river_town(tmp_path)
    incident = metres_to_lonlat(ORIGIN, 1000.0, 0.0)  # on South Street
    across = metres_to_lonlat(ORIGIN, 1000.0, 300.0)  # 300 m away, across the river
    along = metres_to_lonlat(ORIGIN, 200.0, 0.0)  # 800 m away, on the same street
    ranking = router.best_units(incident, ["across", "along"], [across[0], along[0]], [across[1], along[1]], k=2)
    assert isinstance(ranking, UnitRanking)
    by_straight = sorted(ranking.ranked, key=lambda u: u.straight_m)
    assert [u.unit_id for u in by_straight] == ["across", "along"]
    assert [u.unit_id for u in ranking.ranked] == ["along", "across"]
    first, second = ranking.ranked
    assert first.distance_m == pytest.approx(800.0, rel=0.01)
    assert second.distance_m == pytest.approx(2000.0 + 300.0 + 2000.0, rel=0.01)  # over the bridge
    assert first.eta_s == pytest.approx(800.0 / (50 / 3.6), rel=0.01)
    assert "Bridge" in [leg.name for leg in route_legs(router.network, second.route)]


def test_a_route_far_longer_than_the_straight_line_is_still_found(tmp_path: Path) -> None:
    # 300 m apart across the river, 4.3 km by road: the search's first time limit (twice the straight line's
    # time) is passed three times over before the route is proven.
    router = _river_town(tmp_path)
    route = _route(router, metres_to_lonlat(ORIGIN, 1000.0, 300.0), metres_to_lonlat(ORIGIN, 1000.0, 0.0))
    assert route.distance_m == pytest.approx(2000.0 + 300.0 + 2000.0, rel=0.01)
    assert route.eta_s == pytest.approx(4300.0 / (50 / 3.6), rel=0.01)
    assert "Bridge" in [leg.name for leg in route_legs(router.network, route)]

def test_busy_unit_is_skipped(router: Router) -> None:
    units = {
        "engine-1": (metres_to_lonlat(SENAATINTORI, -60.0, 0.0), "busy"),  # the nearest, but busy
        "engine-2": (KAMPPI, "available"),
        "engine-3": (BULEVARDI, "available"),
        "engine-4": (RAUTATIENTORI, "dispatched"),
    }
    def rank(ids: list[str]) -> list[str]:
        ranking = router.best_units(SENAATINTORI, ids, [units[i][0][0] for i in ids], [units[i][0][1] for i in ids],
                                    k=3)
        assert isinstance(ranking, UnitRanking)
        return [u.unit_id for u in ranking.ranked]

    assert rank(list(units))[0] == "engine-1"
    available = [unit_id for unit_id, (_, state) in units.items() if state == "available"]
    ranked = rank(available)
    assert "engine-1" not in ranked and "engine-4" not in ranked
    assert sorted(ranked) == ["engine-2", "engine-3"]


def test_best_units_routes_and_etas_agree_with_routing(router: Router) -> None:
    rng = np.random.default_rng(11)
    points = [metres_to_lonlat(RAUTATIENTORI, *rng.uniform(-600, 600, 2)) for _ in range(12)]
    ids = [f"u{i}" for i in range(len(points))]
    ranking = router.best_units(SENAATINTORI, ids, [p[0] for p in points], [p[1] for p in points], k=4)
    assert isinstance(ranking, UnitRanking)
    assert len(ranking.ranked) == 4
    etas = [u.eta_s for u in ranking.ranked]
    assert etas == sorted(etas)
    for unit in ranking.ranked:
        direct = router.route_between(unit.route.origin, ranking.incident)
        assert isinstance(direct, Route)
        assert unit.eta_s == pytest.approx(direct.eta_s, rel=1e-9)
        assert unit.route.geometry.coords[-1] == pytest.approx((ranking.incident.lon, ranking.incident.lat))
    # Every unit not ranked is at least as slow as the last ranked one.
    slowest = etas[-1]
    for unit_id, point in zip(ids, points, strict=True):
        if unit_id not in {u.unit_id for u in ranking.ranked}:
            other = router.route(point, SENAATINTORI)
            assert not isinstance(other, Route) or other.eta_s >= slowest - 1e-9


def test_etas_without_routes_agree_with_the_ranking(router: Router) -> None:
    rng = np.random.default_rng(12)
    snaps = [router.snapper.snap(*metres_to_lonlat(RAUTATIENTORI, *rng.uniform(-600, 600, 2))) for _ in range(10)]
    units = [s for s in snaps if isinstance(s, Snap)]
    target = router.snapper.snap(*SENAATINTORI)
    assert isinstance(target, Snap)
    etas = router.etas_to(target, units, k=3)
    expected = [router.eta_between(unit, target) for unit in units]
    first = np.argsort(expected)[:3]
    assert etas[first] == pytest.approx(np.array(expected)[first], rel=1e-9)  # the three first are exact
    assert np.all(np.isinf(etas) | np.isclose(etas, expected, rtol=1e-9))  # the rest exact or not reached
    with pytest.raises(ValueError, match="k must be at least 1"):
        router.etas_to(target, units, k=0)


def test_units_off_network_or_unreachable_are_listed(router: Router) -> None:
    sea = metres_to_lonlat(RAUTATIENTORI, 0.0, 5000.0)
    router.close(np.arange(router.network.n_edges))  # everything closed: nobody can move
    ranking = router.best_units(SENAATINTORI, ["sea", "kamppi"], [sea[0], KAMPPI[0]], [sea[1], KAMPPI[1]])
    assert isinstance(ranking, UnitRanking)
    assert ranking.ranked == () and ranking.off_network == ("sea",) and ranking.unreachable == ("kamppi",)
    assert isinstance(router.best_units(sea, ["kamppi"], [KAMPPI[0]], [KAMPPI[1]]), NoRoute)
    with pytest.raises(ValueError, match="same length"):
        router.best_units(SENAATINTORI, ["a", "b"], [KAMPPI[0]], [KAMPPI[1]])
