"""Shortest travel times with Dial's bucket queue, compiled with numba: every node within a time (the cordon) and
the fastest path between two points.

Written here because no graph library offers it (docs/decisions.md, "Routing engine"). A search that may stop at
a time limit knows its largest key in advance, so its priority queue can be an array of buckets, each ``width``
seconds wide, taken in order: no heap, so no comparisons whose outcome the processor cannot predict. On the
Montevideo network a 3-minute search runs in about a third of the time of scipy's Fibonacci-heap Dijkstra, and a
search between two points in under half the time of networkit's bidirectional Dijkstra, which it replaced.

A bucket is wider than the shortest edge, so nodes in one bucket are taken in any order, and a node improved
by another of the same bucket is put in again and taken again. The times are still exact: once a bucket is
empty, every node whose time falls in it has been reached by its shortest path, because that path's previous
node lies in this bucket or an earlier one and was taken after its own last improvement.

Buckets are singly linked lists of entries, one per improvement (an entry whose node has improved since is
skipped when taken): cheaper than moving a node between doubly linked buckets (35 against 55 µs a cordon).
Each thread keeps its own entries and per-node arrays, grows the entries when a search runs out of them, and
leaves the bucket heads empty after every search.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numba
import numpy as np

from citylink.geo.distance import FloatArray
from citylink.geo.roads import IntArray

_MIN_WIDTH_S = 1.0  # measured: 0.5-5 s buckets search equally fast on city networks
_MAX_BUCKETS = 4096  # a longer limit widens the buckets instead
_FIRST_ENTRIES = 4096  # a 3-minute search in a city makes ~1,000; a longer one grows them


class _Settled(NamedTuple):
    completed: bool  # False: the entries ran out, nothing is answered
    cut: bool  # some node was left out because it lies beyond the limit
    best_s: float  # the fastest time to the end (inf: none reached)
    best_end: int  # the end node it was reached through (-1: none)


def _settle(indptr: IntArray, indices: IntArray, weights: FloatArray, starts: IntArray, costs: FloatArray,
            limit_s: float, width_s: float, times: FloatArray, pred: IntArray, end_cost: FloatArray,
            head: IntArray, entry_node: IntArray, entry_time: FloatArray, entry_next: IntArray) -> _Settled:
    """Fill times (all inf on entry) and pred with each node's time within limit_s and the node it was reached
    from (-1 for a start). Stops early once no node left can lead to an end sooner than the best end found;
    end_cost is each node's time on to the end (inf: not an end). head is all -1 on entry and on return."""
    n_buckets = int(limit_s / width_s) + 1
    used, cut = 0, False
    best_s, best_end = np.inf, -1
    for i in range(starts.shape[0]):
        used, beyond = _offer(starts[i], costs[i], -1, limit_s, width_s, times, pred, head, entry_node, entry_time,
                              entry_next, used)
        cut |= beyond
        if used < 0:
            head[:n_buckets] = -1
            return _Settled(False, cut, best_s, best_end)
    for b in range(n_buckets):
        if b * width_s > best_s:  # every node left is slower than the end already reached
            head[b:n_buckets] = -1
            break
        while head[b] >= 0:
            k = head[b]
            head[b] = entry_next[k]
            u, t_u = entry_node[k], entry_time[k]
            if times[u] < t_u:
                continue
            if t_u + end_cost[u] < best_s:
                best_s, best_end = t_u + end_cost[u], u
            for e in range(indptr[u], indptr[u + 1]):
                used, beyond = _offer(indices[e], t_u + weights[e], u, limit_s, width_s, times, pred, head, entry_node,
                                      entry_time, entry_next, used)
                cut |= beyond
                if used < 0:
                    head[:n_buckets] = -1
                    return _Settled(False, cut, best_s, best_end)
    return _Settled(True, cut, best_s, best_end)


def _offer_py(v: int, t: float, via: int, limit_s: float, width_s: float, times: FloatArray, pred: IntArray,
              head: IntArray, entry_node: IntArray, entry_time: FloatArray, entry_next: IntArray,
              used: int) -> tuple[int, bool]:
    """Node v reached at time t from node via (-1: a start). Returns how many entries are in use after it (-1:
    they ran out) and whether t would have improved v but lies beyond the limit."""
    if not t < times[v]:
        return used, False
    if t > limit_s:
        return used, True
    if used == entry_node.shape[0]:
        return -1, False
    times[v], pred[v] = t, via
    b = int(t / width_s)
    entry_node[used], entry_time[used], entry_next[used] = v, t, head[b]
    head[b] = used
    return used + 1, False


def _walk_back(pred: IntArray, end: int, out: IntArray) -> int:
    """Write the nodes from end back to its start into out; how many."""
    count, v = 0, end
    while v >= 0:
        out[count] = v
        count += 1
        v = pred[v]
    return count


# Compiled on first use and cached on disk (~0.7 s once per install, then 0.15-0.25 s per process); nogil lets
# threads search at once, each with its own arrays.
_offer = numba.njit(cache=True, nogil=True, inline="always")(_offer_py)
_settle_compiled: Callable[[IntArray, IntArray, FloatArray, IntArray, FloatArray, float, float, FloatArray,
                            IntArray, FloatArray, IntArray, IntArray, FloatArray, IntArray], _Settled] = numba.njit(
    cache=True, nogil=True)(_settle)
_walk_back_compiled: Callable[[IntArray, int, IntArray], int] = numba.njit(cache=True, nogil=True)(_walk_back)


class _Scratch(threading.local):
    """A thread's bucket heads, entries and per-node arrays; the entries grow when a search needs more."""

    def __init__(self) -> None:
        self.n = -1
        self.head = np.full(_MAX_BUCKETS + 2, -1, dtype=np.int32)
        self.grow(_FIRST_ENTRIES)

    def grow(self, capacity: int) -> None:
        self.entry_node = np.empty(capacity, dtype=np.int32)
        self.entry_time = np.empty(capacity, dtype=np.float64)
        self.entry_next = np.empty(capacity, dtype=np.int32)

    def sized(self, n: int) -> _Scratch:
        if self.n != n:
            self.pred = np.empty(n, dtype=np.int32)  # valid only for the nodes the last search reached
            self.path = np.empty(n, dtype=np.int32)
            self.end_cost = np.full(n, np.inf)  # inf between searches
            self.n = n
        return self


class BucketSearch:
    """Searches on one network's adjacency (CSR: edge i leaves the node whose row holds it), in seconds per edge
    (inf: closed)."""

    def __init__(self, edge_ptr: IntArray, edge_to: IntArray) -> None:
        self._ptr = np.ascontiguousarray(edge_ptr, dtype=np.int32)
        self._to = np.ascontiguousarray(edge_to, dtype=np.int32)
        self._scratch = _Scratch()

    def times(self, weights: FloatArray, starts: Sequence[tuple[int, float]], limit_s: float) -> FloatArray:
        """Each node's time (inf beyond limit_s or unreachable). starts: (node, seconds to reach it)."""
        times, _ = self._settle(self._scratch.sized(self._ptr.shape[0] - 1), weights, starts, limit_s)
        return times

    def fastest(self, weights: FloatArray, starts: Sequence[tuple[int, float]], ends: Sequence[tuple[int, float]],
                limit_s: float) -> tuple[float, IntArray] | None:
        """The fastest time from a start to an end and the nodes on the way (first start node to last end node);
        inf and no nodes when no end can be reached; None when limit_s stopped the search before it could tell.

        starts: (node, seconds to reach it); ends: (node, seconds from it to the destination)."""
        scratch = self._scratch.sized(self._ptr.shape[0] - 1)
        for node, cost in ends:
            scratch.end_cost[node] = min(scratch.end_cost[node], cost)
        try:
            _, settled = self._settle(scratch, weights, starts, limit_s)
        finally:
            for node, _ in ends:
                scratch.end_cost[node] = np.inf
        if settled.best_s <= limit_s or not settled.cut:  # beyond the limit, a quicker way might have been cut
            if settled.best_end < 0:
                return math.inf, np.empty(0, dtype=np.int32)
            count = _walk_back_compiled(scratch.pred, settled.best_end, scratch.path)
            return settled.best_s, scratch.path[count - 1::-1].copy()
        return None

    def _settle(self, s: _Scratch, weights: FloatArray, starts: Sequence[tuple[int, float]],
                limit_s: float) -> tuple[FloatArray, _Settled]:
        if not (limit_s >= 0.0 and math.isfinite(limit_s)):
            raise ValueError(f"limit_s must be finite and not negative, got {limit_s}")
        nodes = np.array([node for node, _ in starts], dtype=np.int32)
        costs = np.array([cost for _, cost in starts], dtype=np.float64)
        width_s = max(_MIN_WIDTH_S, limit_s / _MAX_BUCKETS)
        times = np.full(s.n, np.inf)
        while not (settled := _settle_compiled(self._ptr, self._to, weights, nodes, costs, float(limit_s), width_s,
                                               times, s.pred, s.end_cost, s.head, s.entry_node, s.entry_time,
                                               s.entry_next)).completed:
            s.grow(2 * s.entry_node.shape[0])
            times.fill(np.inf)
        return times, settled
