"""Benchmark: routing on the Montevideo road network, next to networkx's Dijkstra on the same graph and queries.

    python bench/routing.py [--pbf data/montevideo-drive.osm.pbf] [--queries 300] [--baseline-queries 60] [--seed 1]

Imports the network from the PBF, saves it as .npz and times loading it back. Then times three queries on
random points of the city (a few metres off the road, snapped like real positions):

- best of 50 units: rank 50 unit positions by ETA to an incident, top 3 with their routes;
- point to point: the fastest route between two points, with its geometry;
- 3-minute cordon: everything reachable by car from a point in 3 minutes, with its exits.

Each citylink query is timed whole (snapping, search, path and geometry); routes between two points use
citylink's bucket-queue search (numba), as does the cordon; the units use scipy's
csgraph. networkx answers the same question from the same snapped positions on the same graph (the same virtual
start node and partial edges), and only its search is timed; a speed-up is the median, over the queries both
answered, of the two times' ratio per query. Where citylink does not use scipy, scipy's csgraph Dijkstra answers
too (point to point: one full tree; cordon: a tree with the limit), on every query. All answers are compared.
Exits 1 when a target is missed or an answer differs.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import networkx as nx
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from scipy.sparse import csgraph, csr_matrix

from _progress import Latencies, progress_bar, step
from citylink.geo.cordon import Cordon, cordon
from citylink.geo.distance import FloatArray
from citylink.geo.roads import RoadNetwork, import_road_network
from citylink.geo.route_results import Route, UnitRanking
from citylink.geo.routing import Router
from citylink.geo.snapping import Snap

REPO = Path(__file__).resolve().parents[1]
UNITS = 50
TOP_K = 3
CORDON_MINUTES = 3.0
OFF_ROAD_M = 30.0  # query points are scattered this far around road vertices
WARMUP = 10
# (query, target p50 in ms)
TARGETS_MS = {"best of 50 units": 10.0, "point to point": 5.0, "3-minute cordon": 20.0}
TARGET_SPEEDUP = 20.0
TARGET_LOAD_S = 1.0

console = Console()
Q = TypeVar("Q")


def _timed(progress: Progress, label: str, queries: list[Q], run: Callable[[Q], object]) -> Latencies:
    for query in queries[:WARMUP]:
        run(query)
    task = progress.add_task(label, total=len(queries))
    ms = np.empty(len(queries))
    # As timeit does: a collection started by garbage from earlier work would land on whichever short query
    # happens to be running. Both sides are timed this way.
    gc.collect()
    gc.disable()
    try:
        for i, query in enumerate(queries):
            start = time.perf_counter_ns()
            run(query)
            ms[i] = (time.perf_counter_ns() - start) / 1e6
            if i % 20 == 0:
                progress.update(task, completed=i, refresh=True)
    finally:
        gc.enable()
    progress.update(task, completed=len(queries), refresh=True)
    return Latencies(ms)


# -- the networkx side ---------------------------------------------------------------------------------------


def networkx_graph(router: Router) -> nx.DiGraph[int]:
    """The same directed graph; of parallel edges only the fastest matters to a shortest path, so it is kept."""
    net = router.network
    weights = router.edge_time_s
    graph: nx.DiGraph[int] = nx.DiGraph(n=net.n_nodes)  # n, n + 1: a query's virtual source and target
    graph.add_nodes_from(range(net.n_nodes))
    for e in np.argsort(-weights, kind="stable").tolist():  # slowest first, so the fastest is written last
        graph.add_edge(int(net.edge_from[e]), int(net.edge_to[e]), weight=float(weights[e]))
    return graph


def _share(router: Router, edge: int, start_m: float, end_m: float) -> float:
    length = float(router.network.edge_length_m[edge])
    return float(router.edge_time_s[edge]) * (end_m - start_m) / length if length > 0 else 0.0


@contextmanager
def _virtual(graph: nx.DiGraph[int], edges: list[tuple[int, int, float]]) -> Iterator[nx.DiGraph[int]]:
    """The graph with a query's virtual nodes (ids n and n + 1) and partial edges, removed afterwards."""
    n = graph.graph["n"]
    for u, v, w in edges:
        graph.add_edge(u, v, weight=w)
    try:
        yield graph
    finally:
        graph.remove_nodes_from([n, n + 1])


def nx_route_eta(graph: nx.DiGraph[int], router: Router, a: Snap, b: Snap) -> float:
    net = router.network
    source, target = net.n_nodes, net.n_nodes + 1
    edges = [(source, int(net.edge_to[e]), _share(router, e, o, float(net.edge_length_m[e]))) for e, o in
             a.placements()]
    edges += [(int(net.edge_from[e]), target, _share(router, e, 0.0, o)) for e, o in b.placements()]
    with _virtual(graph, edges) as g:
        try:
            eta = nx.dijkstra_path_length(g, source, target, weight="weight")  # stops at the target
        except nx.NetworkXNoPath:
            eta = math.inf
    return min(float(eta), _straight_along(router, a, b))


def _straight_along(router: Router, a: Snap, b: Snap) -> float:
    """The time from a to b straight along an edge they share, b ahead of a (inf: none)."""
    return min((_share(router, e, o, p) for e, o in a.placements() for f, p in b.placements() if e == f and p >= o),
               default=math.inf)


def nx_best_units(reverse: nx.DiGraph[int], router: Router, incident: Snap, units: list[Snap]) -> list[int]:
    """Indexes of the TOP_K units by ETA: one full Dijkstra from the incident on the reversed graph."""
    net = router.network
    edges = [(net.n_nodes, int(net.edge_from[e]), _share(router, e, 0.0, o)) for e, o in incident.placements()]
    with _virtual(reverse, edges) as g:
        _, dist = nx.dijkstra_predecessor_and_distance(g, net.n_nodes, weight="weight")
    etas = []
    for i, unit in enumerate(units):
        eta = min(_share(router, e, o, float(net.edge_length_m[e])) + dist.get(int(net.edge_to[e]), math.inf)
                  for e, o in unit.placements())
        etas.append((min(eta, _straight_along(router, unit, incident)), i))
    return [i for eta, i in sorted(etas)[:TOP_K] if math.isfinite(eta)]


def nx_cordon_nodes(graph: nx.DiGraph[int], router: Router, origin: Snap) -> set[int]:
    net = router.network
    edges = [(net.n_nodes, int(net.edge_to[e]), _share(router, e, o, float(net.edge_length_m[e]))) for e, o in
             origin.placements()]
    with _virtual(graph, edges) as g:
        reached = nx.single_source_dijkstra_path_length(g, net.n_nodes, cutoff=CORDON_MINUTES * 60.0,
                                                        weight="weight")
    return {node for node in reached if node < net.n_nodes}


# -- the scipy side ------------------------------------------------------------------------------------------


class ScipyGraph:
    """The same graph as a CSR matrix with one more, virtual, node whose row a query fills with its partial edges."""

    def __init__(self, router: Router) -> None:
        net = router.network
        n = net.n_nodes
        self.router = router
        self.graph = csr_matrix((np.append(router.edge_time_s, [np.inf, np.inf]),
                                 np.append(net.edge_to, [n, n]).astype(np.int32),
                                 np.append(net.edge_ptr, net.edge_ptr[-1] + 2).astype(np.int32)), shape=(n + 1, n + 1))

    def times_from(self, origin: Snap, limit_s: float = math.inf) -> FloatArray:
        net = self.router.network
        for slot, (e, o) in enumerate(origin.placements()):
            self.graph.indices[-2 + slot] = net.edge_to[e]
            self.graph.data[-2 + slot] = _share(self.router, e, o, float(net.edge_length_m[e]))
        try:
            return np.asarray(csgraph.dijkstra(self.graph, indices=[net.n_nodes], limit=limit_s, min_only=True)[:-1])
        finally:
            self.graph.indices[-2:], self.graph.data[-2:] = net.n_nodes, np.inf

    def cordon_nodes(self, origin: Snap) -> set[int]:
        return set(np.flatnonzero(np.isfinite(self.times_from(origin, CORDON_MINUTES * 60.0))).tolist())

    def route_eta(self, a: Snap, b: Snap) -> float:
        """scipy has no stop at a target: one full tree from the origin, then the destination's partial edges."""
        net = self.router.network
        times = self.times_from(a)
        eta = min(float(times[net.edge_from[e]]) + _share(self.router, e, 0.0, o) for e, o in b.placements())
        return min(eta, _straight_along(self.router, a, b))


# -- queries ---------------------------------------------------------------------------------------------------


def random_points(router: Router, n: int, rng: np.random.Generator) -> list[Snap]:
    """n snapped positions scattered around road vertices of the routable network."""
    net = router.network
    snaps: list[Snap] = []
    while len(snaps) < n:
        nodes = rng.integers(0, net.n_nodes, n)
        east, north = rng.uniform(-OFF_ROAD_M, OFF_ROAD_M, (2, n))
        lat = net.node_lat[nodes] + np.degrees(north / 6_371_008.8)
        lon = net.node_lon[nodes] + np.degrees(east / (6_371_008.8 * np.cos(np.radians(net.node_lat[nodes]))))
        snaps += [s for s in router.snapper.snap_many(lon, lat) if isinstance(s, Snap)]
    return snaps[:n]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pbf", type=Path, default=REPO / "data" / "montevideo-drive.osm.pbf", help="road network")
    parser.add_argument("--queries", type=int, default=300, help="timed citylink queries of each kind")
    parser.add_argument("--baseline-queries", type=int, default=60, help="of those, also run with networkx")
    parser.add_argument("--seed", type=int, default=1, help="seed for the query points")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    rng = np.random.default_rng(args.seed)
    n, n_base = int(args.queries), min(int(args.baseline_queries), int(args.queries))
    with progress_bar(console) as progress, tempfile.TemporaryDirectory() as tmp:
        with step(progress, f"importing {args.pbf.name} (pyosmium)"):
            start = time.perf_counter()
            imported = import_road_network(args.pbf)
            import_s = time.perf_counter() - start
        npz = Path(tmp) / "roads.npz"
        imported.save(npz)
        with step(progress, "loading the .npz back (best of 5)"):
            loads = []
            for _ in range(5):
                start = time.perf_counter()
                network = RoadNetwork.load(npz)
                loads.append(time.perf_counter() - start)
        with step(progress, "building the router (CSR, reverse CSR, snapping index, compiled search)"):
            start = time.perf_counter()
            router = Router(network)
            router_s = time.perf_counter() - start
        with step(progress, "building the networkx graph and scipy's CSR matrix"):
            graph = networkx_graph(router)
            reverse = graph.reverse(copy=True)
            reverse.graph["n"] = network.n_nodes
            scipy_graph = ScipyGraph(router)

        points = random_points(router, 2 * n + n * (UNITS + 1), rng)
        pairs = [(points[2 * i], points[2 * i + 1]) for i in range(n)]
        rest = points[2 * n:]
        scenes = [(rest[i * (UNITS + 1)], rest[i * (UNITS + 1) + 1:(i + 1) * (UNITS + 1)]) for i in range(n)]
        ids = [f"unit-{j}" for j in range(UNITS)]

        def units(scene: tuple[Snap, list[Snap]]) -> UnitRanking:
            incident, unit_snaps = scene
            answer = router.best_units((incident.lon, incident.lat), ids, [u.lon for u in unit_snaps],
                                       [u.lat for u in unit_snaps], k=TOP_K)
            assert isinstance(answer, UnitRanking)
            return answer

        def route(pair: tuple[Snap, Snap]) -> Route | object:
            return router.route((pair[0].lon, pair[0].lat), (pair[1].lon, pair[1].lat))

        def area(scene: tuple[Snap, list[Snap]]) -> Cordon:
            answer = cordon(router, (scene[0].lon, scene[0].lat), minutes=CORDON_MINUTES)
            assert isinstance(answer, Cordon)
            return answer

        ours = {
            "best of 50 units": _timed(progress, "citylink: best of 50 units", scenes, units),
            "point to point": _timed(progress, "citylink: point to point", pairs, route),
            "3-minute cordon": _timed(progress, "citylink: 3-minute cordon", scenes, area),
        }
        # The search alone, from the snapped positions: what networkx's Dijkstra replaces (for the units, one
        # search on the reversed graph and each unit's ETA from it; no snapping, no paths).
        searches = {
            "best of 50 units": _timed(progress, "citylink search: best of 50 units", scenes,
                                       lambda s: router.etas_to(s[0], s[1], k=TOP_K)),
            "point to point": _timed(progress, "citylink search: point to point", pairs,
                                     lambda p: router.eta_between(*p)),
            "3-minute cordon": _timed(progress, "citylink search: 3-minute cordon", scenes,
                                      lambda s: router.times_from(s[0], limit_s=CORDON_MINUTES * 60.0)),
        }
        # scipy's csgraph where citylink uses another engine, from the same snapped positions, on every query.
        scipy_searches = {
            "point to point": _timed(progress, "scipy csgraph: point to point", pairs,
                                     lambda p: scipy_graph.route_eta(*p)),
            "3-minute cordon": _timed(progress, "scipy csgraph: 3-minute cordon", scenes,
                                      lambda s: scipy_graph.times_from(s[0], CORDON_MINUTES * 60.0)),
        }
        # networkx starts from the positions citylink's answers were snapped to.
        ranked = [units(s) for s in scenes[:n_base]]
        routes = [route(p) for p in pairs[:n_base]]
        cordons = [area(s) for s in scenes[:n_base]]
        theirs = {
            "best of 50 units": _timed(progress, "networkx: best of 50 units", list(range(n_base)),
                                       lambda i: nx_best_units(reverse, router, ranked[i].incident,
                                                               [_snap_of(router, u) for u in scenes[i][1]])),
            "point to point": _timed(progress, "networkx: point to point", pairs[:n_base],
                                     lambda p: nx_route_eta(graph, router, *p)),
            "3-minute cordon": _timed(progress, "networkx: 3-minute cordon", list(range(n_base)),
                                      lambda i: nx_cordon_nodes(graph, router, cordons[i].origin)),
        }
        mismatches = _compare(router, graph, reverse, scenes[:n_base], pairs[:n_base], ranked, routes, cordons)
        mismatches += _compare_scipy(scipy_graph, pairs, scenes, router)
        npz_bytes = npz.stat().st_size

    load_s = min(loads)
    table = Table(title=f"Routing on {args.pbf.name}: {network.n_nodes:,} nodes, {network.n_edges:,} edges "
                        f"(numba buckets for point to point and the cordon, scipy csgraph for units), "
                        f"{n} queries each; networkx on the same graph, {n_base} of the queries")
    columns = ("query", "citylink query p50 / p90 / p99", "target p50", "citylink search p50",
               "networkx Dijkstra p50", "speed-up (same queries): search / whole query", "target", "verdict",
               "scipy csgraph p50", "search speed-up over scipy")
    for column in columns:
        table.add_column(column, justify="left" if column == "query" else "right")
    passed = True
    for name, timing in ours.items():
        nx_p50 = theirs[name].percentile(50)
        search_speedup = _paired_speedup(theirs[name], searches[name])
        query_speedup = _paired_speedup(theirs[name], timing)
        latency_ok, speedup_ok = timing.percentile(50) <= TARGETS_MS[name], search_speedup >= TARGET_SPEEDUP
        passed &= latency_ok and speedup_ok
        spread = " / ".join(f"{timing.percentile(q):.2f}" for q in (50, 90, 99))
        table.add_row(name, f"{spread} ms",
                      f"≤ {TARGETS_MS[name]:g} ms", f"{searches[name].percentile(50):.2f} ms", f"{nx_p50:.2f} ms",
                      f"{search_speedup:,.1f}× / {query_speedup:,.1f}×", f"≥ {TARGET_SPEEDUP:g}×",
                      f"{_verdict(latency_ok)} / {_verdict(speedup_ok)}",
                      *_scipy_cells(scipy_searches.get(name), searches[name]))
    console.print(table)

    sizes = Table(title="Import and load")
    sizes.add_column("step")
    sizes.add_column("time", justify="right")
    sizes.add_column("target", justify="right")
    sizes.add_column("verdict", justify="right")
    sizes.add_row(f"import from PBF ({args.pbf.stat().st_size / 1e6:.1f} MB)", f"{import_s:.2f} s", "", "")
    sizes.add_row(f"load .npz ({npz_bytes / 1e6:.1f} MB file), best of 5 / median",
                  f"{load_s * 1e3:.1f} / {float(np.median(loads)) * 1e3:.1f} ms", "", "")
    sizes.add_row("router ready (CSR, reverse CSR, snapping k-d tree, numba's compiled search loaded)",
                  f"{router_s * 1e3:.0f} ms", "", "")
    load_ok = load_s + router_s <= TARGET_LOAD_S
    passed &= load_ok
    sizes.add_row("load + router ready", f"{(load_s + router_s) * 1e3:.0f} ms", f"≤ {TARGET_LOAD_S:g} s",
                  _verdict(load_ok))
    console.print(sizes)
    passed &= mismatches == 0
    console.print(f"{_verdict(mismatches == 0)}: {mismatches} answers differ, of {3 * n_base} compared with "
                  f"networkx and {2 * n} with scipy")
    console.print(f"{_verdict(passed)}: all targets" if passed else f"{_verdict(False)}: a target was missed")
    return 0 if passed else 1


def _paired_speedup(baseline: Latencies, ours: Latencies) -> float:
    """The median over the queries networkx answered of networkx's time over citylink's for the same query.

    Paired, because how long a query takes depends on where it is (a cordon in the centre reaches far more
    road than one at the city's edge): medians of two different sets of queries would compare places too."""
    n = baseline.values.shape[0]
    return float(np.median(baseline.values / ours.values[:n]))


def _scipy_cells(scipy: Latencies | None, ours: Latencies) -> tuple[str, str]:
    if scipy is None:
        return "(citylink's engine)", ""
    return f"{scipy.percentile(50):.2f} ms", f"{_paired_speedup(scipy, ours):,.1f}×"


def _snap_of(router: Router, snap: Snap) -> Snap:
    """The unit's position as best_units snaps it (snapping its own snapped point lands on the same spot)."""
    again = router.snapper.snap(snap.lon, snap.lat)
    assert isinstance(again, Snap)
    return again


def _compare(router: Router, graph: nx.DiGraph[int], reverse: nx.DiGraph[int],
             scenes: list[tuple[Snap, list[Snap]]], pairs: list[tuple[Snap, Snap]], ranked: list[UnitRanking],
             routes: list[Route | object], cordons: list[Cordon]) -> int:
    """How many of citylink's answers differ from networkx's (ETAs to 1e-6 s, the same units, the same nodes)."""
    bad = 0
    for scene, ranking in zip(scenes, ranked, strict=True):
        expected = [f"unit-{i}" for i in nx_best_units(reverse, router, ranking.incident,
                                                     [_snap_of(router, u) for u in scene[1]])]
        bad += [u.unit_id for u in ranking.ranked] != expected
    for (a, b), answer in zip(pairs, routes, strict=True):
        eta = answer.eta_s if isinstance(answer, Route) else math.inf
        bad += not math.isclose(eta, nx_route_eta(graph, router, *_snaps_of(answer, a, b)), abs_tol=1e-6)
    for c in cordons:
        bad += set(c.nodes.tolist()) != nx_cordon_nodes(graph, router, c.origin)
    return bad


def _compare_scipy(scipy_graph: ScipyGraph, pairs: list[tuple[Snap, Snap]], scenes: list[tuple[Snap, list[Snap]]],
                   router: Router) -> int:
    """How many of citylink's answers differ from scipy's: route ETAs to 1e-6 s, cordons node for node."""
    bad = 0
    for a, b in pairs:
        bad += not math.isclose(router.eta_between(a, b), scipy_graph.route_eta(a, b), abs_tol=1e-6)
    for scene in scenes:
        ours = router.times_from(scene[0], limit_s=CORDON_MINUTES * 60.0)
        bad += set(np.flatnonzero(np.isfinite(ours)).tolist()) != scipy_graph.cordon_nodes(scene[0])
    return bad


def _snaps_of(answer: Route | object, a: Snap, b: Snap) -> tuple[Snap, Snap]:
    return (answer.origin, answer.destination) if isinstance(answer, Route) else (a, b)


def _verdict(ok: bool) -> str:
    return "[bold green]PASS[/]" if ok else "[bold red]FAIL[/]"


if __name__ == "__main__":
    sys.exit(main())
