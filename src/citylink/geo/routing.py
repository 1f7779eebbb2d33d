"""Shortest-time queries on a road network: a route between two points, and units ranked by ETA by road.

A route between two points and everything within a time (the cordon) use a bucket-queue search compiled with
numba (bucket_search.py); units by ETA use scipy's ``csgraph.dijkstra`` on the reversed CSR adjacency, for its
predecessors and many targets. Both chosen by measurement: see docs/decisions.md. A query point lies on an
edge, not on a node: a search starts from the next node(s) with the partial edges' times, and partial edges
into the target are added to the node times afterwards. For scipy, the point is one more, virtual, node whose
out-edges are those partial edges; each thread keeps its own copy of the graph with that node's row, and a query
only overwrites the row's two entries.

A route's and the units' searches run with a time ``limit`` that starts near the expected answer and doubles
until the answer is proven: a node time within the limit is exact, and anything not reached takes longer than
the limit.

Live traffic changes edge weights only: a speed factor per edge (1 free flow, 0.5 half speed, 0 closed),
kept copy-on-write, so a query that started keeps the weights it started with and nothing is rebuilt.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csgraph, csr_matrix
from shapely.geometry import LineString

from citylink.geo.bucket_search import BucketSearch
from citylink.geo.distance import FloatArray, haversine_m, haversine_m_many
from citylink.geo.roads import MIN_EDGE_TIME_S, IntArray, RoadNetwork
from citylink.geo.route_results import NoRoute, NoRouteReason, RankedUnit, Route, UnitRanking
from citylink.geo.snapping import DEFAULT_MAX_SNAP_M, OffNetwork, Snap, Snapper

DEFAULT_K = 3
_SLOTS = 2  # out-edges of a query's virtual node: one per direction of the road the point is on
_GROWTH = 2.0  # how much the Dijkstra limit grows when the answer is not yet proven
_MIN_LIMIT_S = 60.0
_DETOUR = 2.0  # first limit: straight-line distance at the network's median speed, this many times over


@dataclass(frozen=True, slots=True)
class _Weights:
    forward: FloatArray  # seconds per edge, in edge order
    reverse: FloatArray  # the same, in reverse-CSR order


@dataclass(frozen=True, slots=True)
class _Arrivals:
    etas: list[tuple[float, int]]  # per unit: ETA (inf: not reached) and the edge it leaves by (-1: straight on)
    pred: IntArray  # the reversed tree: a node's predecessor is the next node towards the target
    whole_network: bool  # the search had no limit, so an unreached unit cannot reach the target at all


class _QueryGraphs(threading.local):
    """Each thread's copy of the reversed adjacency plus the virtual node's row, whose _SLOTS entries a query
    overwrites.

    Writing two entries instead of copying the adjacency per query saves ~60 µs on a city; one copy per
    thread keeps concurrent queries apart.
    """

    def __init__(self) -> None:
        self.weights: _Weights | None = None
        self.reverse = csr_matrix((0, 0))


def _with_virtual_row(indptr: IntArray, indices: IntArray, data: FloatArray) -> csr_matrix:
    n = indptr.shape[0] - 1
    return csr_matrix(
        (np.concatenate((data, np.full(_SLOTS, np.inf))), np.concatenate((indices, np.full(_SLOTS, n, np.int32))),
         np.append(indptr, indptr[-1] + _SLOTS).astype(np.int32)),
        shape=(n + 1, n + 1),
    )


class Router:
    """Routes on one network.

    Queries may run from several threads while one thread applies traffic: an update makes new weight arrays
    and swaps them in with one assignment, so a query sees the old weights or the new, never a mix.
    """

    def __init__(self, network: RoadNetwork, snapper: Snapper | None = None) -> None:
        self.network = network
        self.snapper = snapper if snapper is not None else Snapper(network)
        n = network.n_nodes
        self._base_time_s = np.maximum(network.edge_time_s.astype(np.float64), MIN_EDGE_TIME_S)
        self._rev_edges = np.argsort(network.edge_to, kind="stable").astype(np.int32)
        self._rev_ptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(network.edge_to, minlength=n), out=self._rev_ptr[1:])
        self._rev_indices = network.edge_from[self._rev_edges]
        self._length_m = network.edge_length_m.astype(np.float64)
        self._median_speed_ms = float(np.median(network.edge_speed_kmh)) / 3.6
        self._factor = np.ones(network.n_edges)
        self._weights = self._weights_for(self._factor)
        self._local = _QueryGraphs()
        self._buckets = BucketSearch(network.edge_ptr, network.edge_to)
        # An empty search loads the compiled kernel now (0.15-0.25 s from numba's disk cache) rather than on the
        # first incident's route.
        self._buckets.times(self._weights.forward, [], 0.0)

    # -- live traffic ----------------------------------------------------------------------------------------

    @property
    def speed_factor(self) -> FloatArray:
        """The speed factor of each edge (read-only): 1 free flow, 0 closed."""
        view = self._factor.view()
        view.flags.writeable = False
        return view

    @property
    def edge_time_s(self) -> FloatArray:
        """Each edge's travel time now (inf when closed)."""
        return self._weights.forward

    def set_speed_factor(self, edges: npt.ArrayLike, factor: float | npt.ArrayLike) -> None:
        """Traffic on edges: factor × free-flow speed (0.5 doubles the travel time, 0 closes the edge)."""
        edge_ids = self._edge_ids(edges)
        factors = np.broadcast_to(np.asarray(factor, dtype=np.float64), edge_ids.shape)
        if not np.all((factors >= 0.0) & np.isfinite(factors)):
            raise ValueError("speed factors must be finite and not negative")
        updated = self._factor.copy()
        updated[edge_ids] = factors
        self._swap(updated)

    def close(self, edges: npt.ArrayLike) -> None:
        self.set_speed_factor(edges, 0.0)

    def clear_traffic(self, edges: npt.ArrayLike | None = None) -> None:
        """Back to free flow: on edges, or everywhere."""
        if edges is None:
            self._swap(np.ones(self.network.n_edges))
        else:
            self.set_speed_factor(edges, 1.0)

    def replace_traffic(self, edges: npt.ArrayLike, factors: npt.ArrayLike) -> None:
        """All traffic at once: free flow everywhere but on edges. One swap, so no query sees half a change."""
        edge_ids = self._edge_ids(edges)
        values = np.broadcast_to(np.asarray(factors, dtype=np.float64), edge_ids.shape)
        if not np.all((values >= 0.0) & np.isfinite(values)):
            raise ValueError("speed factors must be finite and not negative")
        updated = np.ones(self.network.n_edges)
        updated[edge_ids] = values
        self._swap(updated)

    def _edge_ids(self, edges: npt.ArrayLike) -> IntArray:
        ids = np.asarray(edges, dtype=np.int64).ravel()
        if ids.shape[0] and (ids.min() < 0 or ids.max() >= self.network.n_edges):
            raise ValueError(f"edge ids must be within [0, {self.network.n_edges})")
        return ids.astype(np.int32)

    def _swap(self, factor: FloatArray) -> None:
        weights = self._weights_for(factor)
        self._factor, self._weights = factor, weights

    def _weights_for(self, factor: FloatArray) -> _Weights:
        forward = np.where(factor > 0.0, self._base_time_s / np.where(factor > 0.0, factor, 1.0), np.inf)
        reverse = forward[self._rev_edges]
        forward.flags.writeable = reverse.flags.writeable = False  # shared by every query that started with them
        return _Weights(forward, reverse)

    # -- within a time -----------------------------------------------------------------------------------------

    def times_from(self, origin: Snap, *, limit_s: float) -> FloatArray:
        """Time from the snapped point to every node (inf beyond limit_s or unreachable)."""
        weights = self._weights
        return self._buckets.times(weights.forward, self._leaving(origin, weights), limit_s)

    def _first_limit_s(self, straight_m: float) -> float:
        return max(_MIN_LIMIT_S, _DETOUR * straight_m / self._median_speed_ms)

    # -- point to point ----------------------------------------------------------------------------------------

    def route(
        self, origin: tuple[float, float], destination: tuple[float, float], *, max_snap_m: float = DEFAULT_MAX_SNAP_M
    ) -> Route | NoRoute:
        """The fastest route between two (lon, lat) points, or why there is none."""
        start, end = self.snapper.snap_many([origin[0], destination[0]], [origin[1], destination[1]],
                                            max_snap_m=max_snap_m)
        if isinstance(start, OffNetwork):
            return NoRoute(NoRouteReason.ORIGIN_OFF_NETWORK, f"no road within {max_snap_m:.0f} m of the origin")
        if isinstance(end, OffNetwork):
            return NoRoute(NoRouteReason.DESTINATION_OFF_NETWORK,
                           f"no road within {max_snap_m:.0f} m of the destination")
        return self.route_between(start, end)

    def route_between(self, origin: Snap, destination: Snap) -> Route | NoRoute:
        weights = self._weights
        best, via, path = self._search(origin, destination, weights)
        if math.isinf(best):
            return NoRoute(NoRouteReason.UNREACHABLE, "no road path from the origin to the destination")
        if via < 0:
            edge = self._direct(origin, destination, weights)[1]
            return self._route(origin, destination, [edge], [_offset(origin, edge)],
                               [_offset(destination, edge)], weights)
        first = self._entry_edge(origin, int(path[0]), weights)
        hops = self._hop_edges(path[:-1], path[1:], weights)
        edges = [first, *hops.tolist(), via]
        starts = [_offset(origin, first), *([0.0] * (len(hops) + 1))]
        ends = [*self._length_m[edges[:-1]].tolist(), _offset(destination, via)]
        return self._route(origin, destination, edges, starts, ends, weights)

    def eta_between(self, origin: Snap, destination: Snap) -> float:
        """The fastest travel time between two snapped points (inf when unreachable), without the route."""
        return self._search(origin, destination, self._weights)[0]

    def _search(self, origin: Snap, destination: Snap, weights: _Weights) -> tuple[float, int, IntArray]:
        """(ETA, the destination's edge it arrives by or -1 for straight along a shared edge, the nodes between)."""
        direct = self._direct(origin, destination, weights)[0]
        starts, ends = self._leaving(origin, weights), self._arriving(destination, weights)
        limit = self._first_limit_s(haversine_m(origin.lon, origin.lat, destination.lon, destination.lat))
        while (found := self._buckets.fastest(weights.forward, starts, ends, limit)) is None:
            limit *= _GROWTH
        eta, path = found
        if direct <= eta:
            return direct, -1, path[:0]
        return eta, self._exit_edge(destination, int(path[-1]), weights), path

    # -- units by ETA ------------------------------------------------------------------------------------------

    def best_units(
        self,
        incident: tuple[float, float],
        unit_ids: Sequence[str],
        unit_lon: npt.ArrayLike,
        unit_lat: npt.ArrayLike,
        *,
        k: int = DEFAULT_K,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ) -> UnitRanking | NoRoute:
        """The k units that reach the incident (lon, lat) first by road, each with its route.

        Pass only the units that may be sent (the caller filters by state). One Dijkstra from the incident
        on the reversed graph gives every unit's ETA at once.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        lon, lat = np.asarray(unit_lon, dtype=np.float64), np.asarray(unit_lat, dtype=np.float64)
        if not (lon.shape == lat.shape == (len(unit_ids),)):
            raise ValueError("unit_ids, unit_lon and unit_lat must have the same length")
        target = self.snapper.snap(incident[0], incident[1], max_snap_m=max_snap_m)
        if isinstance(target, OffNetwork):
            return NoRoute(NoRouteReason.DESTINATION_OFF_NETWORK, f"no road within {max_snap_m:.0f} m of the incident")
        snaps = self.snapper.snap_many(lon, lat, max_snap_m=max_snap_m)
        placed = [(i, s) for i, s in enumerate(snaps) if isinstance(s, Snap)]
        straight = haversine_m_many(lon, lat, target.lon, target.lat)
        weights = self._weights
        arrivals = self._arrivals(target, [s for _, s in placed], straight[[i for i, _ in placed]], k, weights)
        reached = sorted((eta, unit_ids[i], i, via) for (i, _), (eta, via) in zip(placed, arrivals.etas, strict=True)
                         if math.isfinite(eta))
        by_index = dict(placed)
        ranked = tuple(self._ranked_unit(unit_id, by_index[i], target, via, arrivals.pred, weights,
                                         float(straight[i]))
                       for _, unit_id, i, via in reached[:k])
        return UnitRanking(
            target, ranked,
            # Only a search of the whole network proves a unit unreachable; it runs when fewer than k arrive.
            unreachable=tuple(unit_ids[i] for (i, _), (eta, _) in zip(placed, arrivals.etas, strict=True)
                              if math.isinf(eta) and arrivals.whole_network),
            off_network=tuple(unit_ids[i] for i, s in enumerate(snaps) if isinstance(s, OffNetwork)),
        )

    def etas_to(self, target: Snap, units: Sequence[Snap], *, k: int = DEFAULT_K) -> FloatArray:
        """Snapped units' ETAs to a snapped target by road, without routes: exact for the k first to arrive and
        for any other the same search reached; inf for the rest (slower than those k, or unreachable)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        straight = np.array([haversine_m(u.lon, u.lat, target.lon, target.lat) for u in units], dtype=np.float64)
        arrivals = self._arrivals(target, units, straight, k, self._weights)
        return np.array([eta for eta, _ in arrivals.etas], dtype=np.float64)

    def _arrivals(self, target: Snap, units: Sequence[Snap], straight_m: FloatArray, k: int,
                  weights: _Weights) -> _Arrivals:
        """One Dijkstra from the target on the reversed graph, its limit grown until k units are in."""
        nearest = np.sort(straight_m)
        limit = self._first_limit_s(float(nearest[min(k, nearest.shape[0]) - 1]) if units else 0.0)
        while True:
            times, pred = self._reverse_tree(target, weights, limit_s=limit)
            etas = [self._unit_eta(unit, target, times, weights) for unit in units]
            if sum(eta <= limit for eta, _ in etas) >= min(k, len(units)) or math.isinf(limit):
                return _Arrivals(etas, pred, math.isinf(limit))
            limit = _grow(limit)

    def _unit_eta(self, unit: Snap, target: Snap, times: FloatArray, weights: _Weights) -> tuple[float, int]:
        """ETA from the unit's point to the target, and the unit's edge it leaves by (-1: straight along it)."""
        best, via = self._direct(unit, target, weights)[0], -1
        for edge, offset in unit.placements():
            eta = self._partial(weights, edge, offset, float(self._length_m[edge])) + times[self.network.edge_to[edge]]
            if eta < best:
                best, via = eta, edge
        return float(best), via

    def _ranked_unit(self, unit_id: str, unit: Snap, target: Snap, via: int, pred: IntArray, weights: _Weights,
                     straight_m: float) -> RankedUnit:
        if via < 0:
            edge = self._direct(unit, target, weights)[1]
            route = self._route(unit, target, [edge], [_offset(unit, edge)],
                                [_offset(target, edge)], weights)
        else:
            # On the reversed graph a node's predecessor is the next node towards the incident.
            path = _walk(pred, int(self.network.edge_to[via]), self.network.n_nodes)
            last = self._exit_edge(target, int(path[-1]), weights)
            hops = self._hop_edges(path[:-1], path[1:], weights)
            edges = [via, *hops.tolist(), last]
            starts = [_offset(unit, via), *([0.0] * (len(hops) + 1))]
            ends = [*self._length_m[edges[:-1]].tolist(), _offset(target, last)]
            route = self._route(unit, target, edges, starts, ends, weights)
        return RankedUnit(unit_id, route.eta_s, route.distance_m, straight_m, route)

    def _reverse_tree(self, target: Snap, weights: _Weights, *, limit_s: float) -> tuple[FloatArray, IntArray]:
        """Dijkstra on the reversed graph from a virtual node (index n) at the snapped target: every node's time
        to the target, and the next node towards it."""
        graph = self._reversed_graph_to(target, weights)
        times, pred = csgraph.dijkstra(graph, indices=self.network.n_nodes, return_predecessors=True, limit=limit_s)
        return np.asarray(times, dtype=np.float64), np.asarray(pred, dtype=np.int32)

    def _reversed_graph_to(self, target: Snap, weights: _Weights) -> csr_matrix:
        """This thread's reversed graph with the virtual node (index n) at the snapped target."""
        n = self.network.n_nodes
        heads, costs = [n] * _SLOTS, [math.inf] * _SLOTS  # an unused slot: an endless loop onto itself
        for slot, (tail, cost) in enumerate(self._arriving(target, weights)):
            heads[slot], costs[slot] = tail, cost
        local = self._local
        if local.weights is not weights:  # made again after a traffic swap
            local.reverse = _with_virtual_row(self._rev_ptr, self._rev_indices, weights.reverse)
            local.weights = weights
        graph = local.reverse
        graph.indices[-_SLOTS:] = heads
        graph.data[-_SLOTS:] = costs
        return graph

    # -- path pieces -------------------------------------------------------------------------------------------

    def _leaving(self, origin: Snap, weights: _Weights) -> list[tuple[int, float]]:
        """(node, seconds) for each way out of a snapped point: the edge's head, and the rest of the edge."""
        net = self.network
        return [(int(net.edge_to[e]), self._partial(weights, e, o, float(self._length_m[e])))
                for e, o in origin.placements()]

    def _arriving(self, destination: Snap, weights: _Weights) -> list[tuple[int, float]]:
        """(node, seconds) for each way into a snapped point: the edge's tail, and the edge up to the point. A
        point at the very start of a closed edge stands on the junction: it costs nothing, not inf × 0."""
        net = self.network
        return [(int(net.edge_from[e]), self._partial(weights, e, 0.0, o)) for e, o in destination.placements()]

    def _partial(self, weights: _Weights, edge: int, start_m: float, end_m: float) -> float:
        length = self._length_m[edge]
        share = (end_m - start_m) / length if length > 0 else 0.0
        return float(weights.forward[edge]) * share if share > 0 else 0.0

    def _direct(self, origin: Snap, destination: Snap, weights: _Weights) -> tuple[float, int]:
        """Time straight along a shared edge when the destination lies ahead of the origin on it."""
        best, via = math.inf, -1
        for edge, start in origin.placements():
            for other, end in destination.placements():
                if edge == other and end >= start:
                    time_s = self._partial(weights, edge, start, end)
                    if time_s < best:
                        best, via = time_s, edge
        return best, via

    def _entry_edge(self, origin: Snap, node: int, weights: _Weights) -> int:
        """The origin's edge that leads to node soonest."""
        options = [(self._partial(weights, e, o, float(self._length_m[e])), e) for e, o in origin.placements()
                   if self.network.edge_to[e] == node]
        return min(options)[1]

    def _exit_edge(self, destination: Snap, node: int, weights: _Weights) -> int:
        """The destination's edge that is entered from node and reaches it soonest."""
        options = [(self._partial(weights, e, 0.0, o), e) for e, o in destination.placements()
                   if self.network.edge_from[e] == node]
        return min(options)[1]

    def _hop_edges(self, tails: IntArray, heads: IntArray, weights: _Weights) -> IntArray:
        """The fastest edge from each tail to its head (there may be parallel edges)."""
        ptr = self.network.edge_ptr
        starts, counts = ptr[tails], ptr[tails + 1] - ptr[tails]
        hop = np.repeat(np.arange(tails.shape[0]), counts)
        candidate = np.repeat(starts, counts) + np.arange(hop.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        cost = np.where(self.network.edge_to[candidate] == np.repeat(heads, counts), weights.forward[candidate],
                        np.inf)
        order = np.lexsort((cost, hop))
        first = order[np.r_[True, hop[order][1:] != hop[order][:-1]]] if order.shape[0] else order
        return np.asarray(candidate[first], dtype=np.int32)

    def _route(self, origin: Snap, destination: Snap, edges: list[int], starts: list[float], ends: list[float],
               weights: _Weights) -> Route:
        edge_ids = np.array(edges, dtype=np.int32)
        start_m, end_m = np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            share = np.where(self._length_m[edge_ids] > 0, (end_m - start_m) / self._length_m[edge_ids], 0.0)
        time_s = weights.forward[edge_ids] * np.maximum(share, 0.0)
        coords, piece = self.network.edge_coords(edge_ids, start_m, end_m)
        keep = np.r_[True, piece[1:] == piece[:-1]]  # each piece starts where the one before ended
        return Route(origin, destination, edge_ids, start_m, end_m, time_s,
                     self.network.edge_to[edge_ids[:-1]], LineString(coords[keep]))


def _offset(snap: Snap, edge: int) -> float:
    """Where the snapped point lies along one of its edges."""
    return dict(snap.placements())[edge]


def _walk(pred: IntArray, node: int, virtual: int) -> IntArray:
    """Nodes from node back along predecessors up to (not including) the virtual source."""
    path = [node]
    while (node := int(pred[node])) != virtual:
        path.append(node)
    return np.array(path, dtype=np.int32)


def _grow(limit_s: float) -> float:
    return limit_s * _GROWTH if limit_s < 1e6 else math.inf
