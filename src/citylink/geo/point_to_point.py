"""Point-to-point search: networkit's bidirectional Dijkstra between a query's two virtual nodes.

A query's ends lie on edges, not on nodes, so each thread's graph has two more nodes: a source whose out-edges
are the partial edges from the origin to the next node(s), and a target whose in-edges are the partial edges
from the previous node(s) to the destination. A query adds those few edges, searches and takes them away again.

Chosen by measurement over scipy's single-direction search (docs/decisions.md): searching from both ends
settles about half the nodes, and networkit does it in C++ without a Python call per node.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import networkit as nk
import numpy as np

from citylink.geo.distance import FloatArray
from citylink.geo.roads import IntArray

_UNREACHABLE = 1e300  # networkit answers the largest double when there is no path


class _Graphs(threading.local):
    """Each thread's networkit graph, for the weights it was built with: a query changes it while it runs."""

    def __init__(self) -> None:
        self.weights: FloatArray | None = None
        self.graph: Any = None


class PointToPoint:
    """Fastest paths on one network's directed edges, in seconds per edge."""

    def __init__(self, edge_from: IntArray, edge_to: IntArray, n_nodes: int) -> None:
        self._from = edge_from.astype(np.uint64)
        self._to = edge_to.astype(np.uint64)
        self._n = n_nodes
        self._local = _Graphs()

    def search(self, weights: FloatArray, starts: Sequence[tuple[int, float]],
               ends: Sequence[tuple[int, float]]) -> tuple[float, IntArray]:
        """The fastest time from the origin to the destination and the network nodes passed on the way.

        starts: (node, seconds from the origin to it); ends: (node, seconds from it to the destination).
        An unreachable destination gives inf and no nodes."""
        graph = self._graph(weights)
        source, target = self._n, self._n + 1
        added = [(source, node, cost) for node, cost in starts] + [(node, target, cost) for node, cost in ends]
        for u, v, cost in added:
            graph.addEdge(u, v, cost)
        try:
            search = nk.distance.BidirectionalDijkstra(graph, source, target, True)
            search.run()
            eta = float(search.getDistance())
            if eta >= _UNREACHABLE:
                return math.inf, np.empty(0, dtype=np.int32)
            return eta, np.asarray(search.getPath(), dtype=np.int32)
        finally:
            for u, v, _ in added:
                graph.removeEdge(u, v)

    def _graph(self, weights: FloatArray) -> Any:
        """This thread's graph for these weights; built again after a traffic change (closed edges left out)."""
        local = self._local
        if local.weights is not weights:
            open_ = np.isfinite(weights)
            local.graph = nk.graph.GraphFromCoo(
                (weights[open_].astype(np.float64), (self._from[open_], self._to[open_])), self._n + 2,
                directed=True, weighted=True)
            local.weights = weights
        return local.graph
