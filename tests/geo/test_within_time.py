"""Time-limited searches (the cordon's): exact against scipy's Dijkstra, whatever the limit, traffic or thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.sparse import csgraph, csr_matrix

from citylink.geo import within_time
from citylink.geo.distance import FloatArray
from citylink.geo.road_profiles import Profile
from citylink.geo.roads import RoadNetwork
from citylink.geo.routing import Router
from citylink.geo.within_time import WithinTime
from tests.geo.roads_fixtures import helsinki


def _dijkstra(net: RoadNetwork, weights: FloatArray, starts: list[tuple[int, float]], limit_s: float) -> FloatArray:
    """scipy's answer: a virtual node n with an edge to each start, then a Dijkstra with the limit."""
    n = net.n_nodes
    graph = csr_matrix(
        (np.concatenate((weights, [cost for _, cost in starts])),
         np.concatenate((net.edge_to, [node for node, _ in starts])),
         np.append(net.edge_ptr, net.edge_ptr[-1] + len(starts))),
        shape=(n + 1, n + 1),
    )
    return np.asarray(csgraph.dijkstra(graph, indices=n, limit=limit_s)[:-1])


def _starts(router: Router, count: int, seed: int) -> list[list[tuple[int, float]]]:
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


def _assert_same(ours: FloatArray, scipy: FloatArray) -> None:
    assert np.array_equal(np.isinf(ours), np.isinf(scipy))  # the same nodes reached
    assert np.allclose(ours[np.isfinite(ours)], scipy[np.isfinite(scipy)], rtol=1e-12)


@pytest.mark.parametrize(("profile", "limits_s"), [(Profile.CAR, [0.0, 5.0, 59.5, 180.0, 187.3, 600.0]),
                                                   (Profile.FOOT, [60.0, 600.0, 7777.7])])
def test_times_equal_dijkstras_within_any_limit(profile: Profile, limits_s: list[float]) -> None:
    # 7,777.7 s is past 4,096 one-second buckets: the buckets widen and the answer stays exact. A limit between
    # two bucket edges leaves a last, partial bucket that must be searched too.
    router = Router(helsinki(profile))
    search = WithinTime(router.network.edge_ptr, router.network.edge_to)
    for starts in _starts(router, 25, seed=3):
        for limit_s in limits_s:
            ours = search.times(router.edge_time_s, starts, limit_s)
            _assert_same(ours, _dijkstra(router.network, router.edge_time_s, starts, limit_s))
            assert np.all(ours[np.isfinite(ours)] <= limit_s)


def test_closed_and_slowed_roads_are_searched_as_they_are_now() -> None:
    router = Router(helsinki())
    net = router.network
    rng = np.random.default_rng(5)
    router.close(rng.choice(net.n_edges, net.n_edges // 10, replace=False))
    router.set_speed_factor(rng.choice(net.n_edges, net.n_edges // 5, replace=False), 0.3)
    search = WithinTime(net.edge_ptr, net.edge_to)
    for starts in _starts(router, 25, seed=6):
        _assert_same(search.times(router.edge_time_s, starts, 300.0),
                     _dijkstra(net, router.edge_time_s, starts, 300.0))


def test_a_search_that_outgrows_its_entries_grows_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(within_time, "_FIRST_ENTRIES", 1)
    router = Router(helsinki())
    search = WithinTime(router.network.edge_ptr, router.network.edge_to)  # this thread's entries: one
    for starts in _starts(router, 5, seed=8):
        _assert_same(search.times(router.edge_time_s, starts, 600.0),
                     _dijkstra(router.network, router.edge_time_s, starts, 600.0))


def test_threads_search_at_once_without_mixing_answers() -> None:
    router = Router(helsinki())
    search = WithinTime(router.network.edge_ptr, router.network.edge_to)
    cases = _starts(router, 40, seed=9)
    alone = [search.times(router.edge_time_s, starts, 240.0) for starts in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda starts: search.times(router.edge_time_s, starts, 240.0), cases * 3))
    for i, times in enumerate(together):
        assert np.array_equal(times, alone[i % len(cases)])


def test_a_start_beyond_the_limit_reaches_nothing() -> None:
    router = Router(helsinki())
    search = WithinTime(router.network.edge_ptr, router.network.edge_to)
    assert np.all(np.isinf(search.times(router.edge_time_s, [(0, 61.0)], 60.0)))
    assert np.all(np.isinf(search.times(router.edge_time_s, [], 60.0)))


@pytest.mark.parametrize("limit_s", [-1.0, float("inf"), float("nan")])
def test_a_limit_must_be_finite_and_not_negative(limit_s: float) -> None:
    router = Router(helsinki())
    search = WithinTime(router.network.edge_ptr, router.network.edge_to)
    with pytest.raises(ValueError, match="limit_s must be finite and not negative"):
        search.times(router.edge_time_s, [(0, 0.0)], limit_s)
