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
from scipy.sparse import csr_matrix

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

    def __init__(self, edge_ptr: IntArray, edge_to: IntArray) -> None:
        """The network's adjacency in CSR order (edge i leaves the node whose row holds it)."""
        self._n = edge_ptr.shape[0] - 1
        self._ptr = np.append(edge_ptr, [edge_ptr[-1]] * 2)  # the two virtual nodes' rows, empty until a query
        self._to = edge_to
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
            # storePred=True is required, not only for the path: networkit 11.3 crashes the process without it.
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
        """This thread's graph for these weights; built again after a traffic change (a closed edge's inf weight
        is never the shorter way). From CSR: 4-8 ms on a city against 18-50 ms from (from, to) pairs."""
        local = self._local
        if local.weights is not weights:
            adjacency = csr_matrix((weights, self._to, self._ptr), shape=(self._n + 2, self._n + 2))
            local.graph = nk.graph.GraphFromCsr(adjacency, directed=True, weighted=True)
            local.weights = weights
        return local.graph
