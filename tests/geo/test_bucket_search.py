"""The bucket-queue search (routes and cordons): exact against scipy's Dijkstra, whatever the limit, traffic or
thread."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from citylink.geo import bucket_search
from citylink.geo.bucket_search import BucketSearch
from citylink.geo.distance import FloatArray
from citylink.geo.road_profiles import Profile
from citylink.geo.routing import Router
from tests.geo.roads_fixtures import dijkstra_times, helsinki

Places = list[tuple[int, float]]


def _places(router: Router, count: int, seed: int) -> list[Places]:
    """Points part-way along random roads, with the time from each to the road's next node (both ways on some)."""
    rng = np.random.default_rng(seed)
    net, weights = router.network, router.edge_time_s
    out = []
    for edge, back, share in zip(rng.integers(0, net.n_edges, count), rng.integers(0, net.n_edges, count),
                                 rng.uniform(0.0, 1.0, count), strict=True):
        out.append([(int(net.edge_to[edge]), float(weights[edge]) * share)])
        if share < 0.5:
            out[-1].append((int(net.edge_to[back]), float(weights[back]) * (1.0 - share)))
    return out


def _search(router: Router) -> BucketSearch:
    return BucketSearch(router.network.edge_ptr, router.network.edge_to)


def _assert_same(ours: FloatArray, scipy: FloatArray) -> None:
    assert np.array_equal(np.isinf(ours), np.isinf(scipy))  # the same nodes reached
    assert np.allclose(ours[np.isfinite(ours)], scipy[np.isfinite(scipy)], rtol=1e-12)


# -- within a time ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "limits_s"), [(Profile.CAR, [0.0, 5.0, 59.5, 180.0, 187.3, 600.0]),
                                                   (Profile.FOOT, [60.0, 600.0, 7777.7])])
def test_times_equal_dijkstras_within_any_limit(profile: Profile, limits_s: list[float]) -> None:
    # 7,777.7 s is past 4,096 one-second buckets: the buckets widen and the answer stays exact. A limit between
    # two bucket edges leaves a last, partial bucket that must be searched too.
    router = Router(helsinki(profile))
    search = _search(router)
    for starts in _places(router, 25, seed=3):
        for limit_s in limits_s:
            ours = search.times(router.edge_time_s, starts, limit_s)
            _assert_same(ours, dijkstra_times(router.network, router.edge_time_s, starts, limit_s))
            assert np.all(ours[np.isfinite(ours)] <= limit_s)


def test_closed_and_slowed_roads_are_searched_as_they_are_now() -> None:
    router = Router(helsinki())
    net = router.network
    rng = np.random.default_rng(5)
    router.close(rng.choice(net.n_edges, net.n_edges // 10, replace=False))
    router.set_speed_factor(rng.choice(net.n_edges, net.n_edges // 5, replace=False), 0.3)
    search = _search(router)
    for starts in _places(router, 25, seed=6):
        _assert_same(search.times(router.edge_time_s, starts, 300.0),
                     dijkstra_times(net, router.edge_time_s, starts, 300.0))


def test_a_search_that_outgrows_its_entries_grows_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bucket_search, "_FIRST_ENTRIES", 1)
    router = Router(helsinki())
    search = _search(router)  # this thread's entries: one
    for starts in _places(router, 5, seed=8):
        _assert_same(search.times(router.edge_time_s, starts, 600.0),
                     dijkstra_times(router.network, router.edge_time_s, starts, 600.0))
    ends = _places(router, 1, seed=9)[0]
    assert search.fastest(router.edge_time_s, _places(router, 1, seed=10)[0], ends, 3600.0) is not None


def test_threads_search_at_once_without_mixing_answers() -> None:
    router = Router(helsinki())
    search = _search(router)
    cases = _places(router, 40, seed=9)
    alone = [search.times(router.edge_time_s, starts, 240.0) for starts in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda starts: search.times(router.edge_time_s, starts, 240.0), cases * 3))
    for i, times in enumerate(together):
        assert np.array_equal(times, alone[i % len(cases)])


def test_a_start_beyond_the_limit_reaches_nothing() -> None:
    router = Router(helsinki())
    search = _search(router)
    assert np.all(np.isinf(search.times(router.edge_time_s, [(0, 61.0)], 60.0)))
    assert np.all(np.isinf(search.times(router.edge_time_s, [], 60.0)))


@pytest.mark.parametrize("limit_s", [-1.0, float("inf"), float("nan")])
def test_a_limit_must_be_finite_and_not_negative(limit_s: float) -> None:
    router = Router(helsinki())
    with pytest.raises(ValueError, match="limit_s must be finite and not negative"):
        _search(router).times(router.edge_time_s, [(0, 0.0)], limit_s)


# -- the fastest way to an end ---------------------------------------------------------------------------------


def _expected(router: Router, starts: Places, ends: Places) -> float:
    times = dijkstra_times(router.network, router.edge_time_s, starts)
    return min(float(times[node]) + cost for node, cost in ends)


def test_fastest_equals_dijkstras_time_and_its_path_adds_up() -> None:
    router = Router(helsinki())
    net, weights = router.network, router.edge_time_s
    search = _search(router)
    starts_list, ends_list = _places(router, 80, seed=11), _places(router, 80, seed=12)
    reached = 0
    for starts, ends in zip(starts_list, ends_list, strict=True):
        found = search.fastest(weights, starts, ends, 3600.0)
        assert found is not None
        eta, nodes = found
        assert eta == pytest.approx(_expected(router, starts, ends), rel=1e-12)
        if math.isinf(eta):  # a dead end of the extract: one-way streets out of it were clipped
            assert nodes.shape == (0,)
            continue
        reached += 1
        # The path: from a start node, along edges of the network, to an end node, in exactly that time.
        start_cost, end_cost = dict(starts), dict(ends)
        assert nodes[0] in start_cost and nodes[-1] in end_cost
        hops = [float(min(weights[e] for e in range(net.edge_ptr[u], net.edge_ptr[u + 1]) if net.edge_to[e] == v))
                for u, v in zip(nodes[:-1].tolist(), nodes[1:].tolist(), strict=True)]
        assert start_cost[int(nodes[0])] + sum(hops) + end_cost[int(nodes[-1])] == pytest.approx(eta, rel=1e-12)
    assert reached > 60


def test_fastest_says_when_its_limit_cut_it_short_and_when_nothing_can_be_reached() -> None:
    router = Router(helsinki())
    weights = router.edge_time_s
    search = _search(router)
    starts, ends = _places(router, 1, seed=13)[0], _places(router, 1, seed=14)[0]
    eta = _expected(router, starts, ends)
    assert search.fastest(weights, starts, ends, eta / 4) is None  # not proven within a quarter of the time
    found = search.fastest(weights, starts, ends, eta)
    assert found is not None and found[0] == pytest.approx(eta, rel=1e-12)
    closed = np.full_like(weights, math.inf)  # every road closed: only the start nodes themselves
    eta_closed, nodes = search.fastest(closed, starts, ends, 60.0) or (None, None)
    assert eta_closed == math.inf and nodes is not None and nodes.shape == (0,)


def test_an_end_on_a_start_node_costs_only_the_two_partial_edges() -> None:
    router = Router(helsinki())
    node = int(router.network.edge_to[0])
    found = _search(router).fastest(router.edge_time_s, [(node, 4.0)], [(node, 2.5)], 60.0)
    assert found is not None and found[0] == 6.5 and found[1].tolist() == [node]


def test_the_first_end_reached_is_not_taken_when_another_arrives_sooner() -> None:
    # The destination lies on a long road: near end A is reached first but leaves 55 s still to drive; far end B,
    # reached 50 s later, is right at the destination. The search must go on past A until B is settled.
    router = Router(helsinki())
    starts = _places(router, 1, seed=15)[0]
    times = dijkstra_times(router.network, router.edge_time_s, starts)
    a = int(np.argmin(np.abs(times - 10.0)))
    b = int(np.argmin(np.abs(times - 60.0)))
    ends = [(a, 55.0), (b, 0.0)]
    found = _search(router).fastest(router.edge_time_s, starts, ends, 600.0)
    assert found is not None and found[0] == pytest.approx(times[b]) and found[1][-1] == b
