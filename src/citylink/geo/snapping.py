"""Snapping a point to the nearest road segment (not just the nearest node) of a road network.

Every link polyline is projected once into one metric plane centred on the network (azimuthal
equidistant: over a city its scale error is below 1e-5) and sampled every ``SAMPLE_SPACING_M`` metres; a
k-d tree holds the samples. For a query point at distance d0 from its nearest sample, the nearest segment
is within d0, and a sample of it lies within d0 + spacing/2 of the point, so projecting the point exactly
onto the segments of the samples in that ball finds the true nearest segment.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from citylink.geo.area import LocalFrame
from citylink.geo.distance import FloatArray
from citylink.geo.roads import IntArray, RoadNetwork

SAMPLE_SPACING_M = 20.0
DEFAULT_MAX_SNAP_M = 500.0


@dataclass(frozen=True, slots=True)
class Snap:
    """A point placed on the network: where it lands, and on which edge(s)."""

    lon: float  # the point on the road
    lat: float
    distance_m: float  # from the query point to the road
    link: int
    edge: int  # a directed edge through the point
    offset_m: float  # along edge, from its from-node
    reverse_edge: int  # the edge of the other direction on a two-way road, else -1
    reverse_offset_m: float  # along reverse_edge, from its from-node

    def placements(self) -> tuple[tuple[int, float], ...]:
        """(edge, offset_m) for each direction of travel through the point."""
        if self.reverse_edge < 0:
            return ((self.edge, self.offset_m),)
        return (self.edge, self.offset_m), (self.reverse_edge, self.reverse_offset_m)


@dataclass(frozen=True, slots=True)
class OffNetwork:
    """The query point is farther than max_snap_m from every road of the network."""

    lon: float  # the query point
    lat: float
    max_snap_m: float


class Snapper:
    """Nearest-segment queries on one road network. Built once per network; read-only afterwards.

    By default points snap only to roads of the network's largest strongly connected part: a clipped
    extract leaves one-way stubs at its edges from which nothing can be reached, and a unit or an incident
    placed on one would be "unreachable" although a through road runs metres away.
    """

    def __init__(self, network: RoadNetwork, *, main_component_only: bool = True) -> None:
        self._network = network
        lon, lat = network.shape_lon, network.shape_lat
        self._frame = LocalFrame.centred_on(float((lon.min() + lon.max()) / 2), float((lat.min() + lat.max()) / 2))
        x, y = self._frame.to_xy(lon, lat)
        self._xy = np.column_stack((x, y))
        # Segment i runs from shape vertex i to i + 1; the last vertex of each link starts none.
        is_start = np.ones(lon.shape[0], dtype=np.bool_)
        is_start[network.link_shape_ptr[1:] - 1] = False
        if main_component_only:
            is_start &= np.repeat(_main_component_links(network), np.diff(network.link_shape_ptr))
        self._seg_start = np.flatnonzero(is_start).astype(np.int32)
        self._seg_link = (np.searchsorted(network.link_shape_ptr, self._seg_start, side="right") - 1).astype(np.int32)
        a, b = self._xy[self._seg_start], self._xy[self._seg_start + 1]
        planar = np.hypot(*(b - a).T)
        samples = np.maximum(np.ceil(planar / SAMPLE_SPACING_M).astype(np.int64), 1) + 1  # both ends included
        self._sample_seg = np.repeat(np.arange(self._seg_start.shape[0], dtype=np.int32), samples)
        t = (np.arange(self._sample_seg.shape[0]) - np.repeat(np.cumsum(samples) - samples, samples)) / np.repeat(
            samples - 1, samples
        )
        points = a[self._sample_seg] + t[:, None] * (b - a)[self._sample_seg]
        self._tree = cKDTree(points, balanced_tree=False)
        self._edge_of_link = _edges_by_link(network)

    @property
    def network(self) -> RoadNetwork:
        return self._network

    def snap(self, lon: float, lat: float, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap | OffNetwork:
        return self.snap_many(np.array([lon]), np.array([lat]), max_snap_m=max_snap_m)[0]

    def snap_many(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, *, max_snap_m: float = DEFAULT_MAX_SNAP_M
    ) -> list[Snap | OffNetwork]:
        """Snap each (lon, lat); a point more than max_snap_m from every road is OffNetwork."""
        if not max_snap_m > 0.0:
            raise ValueError(f"max_snap_m must be positive, got {max_snap_m}")
        qlon, qlat = np.asarray(lon, dtype=np.float64).ravel(), np.asarray(lat, dtype=np.float64).ravel()
        if qlon.shape != qlat.shape:
            raise ValueError(f"lon and lat differ in length: {qlon.shape[0]} and {qlat.shape[0]}")
        if qlon.shape[0] == 0:
            return []
        x, y = self._frame.to_xy(qlon, qlat)
        xy = np.column_stack((x, y))
        bound, _ = self._tree.query(xy, k=1, distance_upper_bound=max_snap_m + SAMPLE_SPACING_M)
        near = np.flatnonzero(np.isfinite(bound))
        results: list[Snap | OffNetwork | None] = [None] * qlon.shape[0]
        if near.shape[0]:
            balls = self._tree.query_ball_point(xy[near], bound[near] + SAMPLE_SPACING_M / 2 + 1e-6)
            counts = np.fromiter((len(ball) for ball in balls), dtype=np.int64, count=near.shape[0])
            point = np.repeat(near, counts)
            seg = self._sample_seg[np.fromiter(itertools.chain.from_iterable(balls), dtype=np.int64,
                                               count=int(counts.sum()))]
            start = self._seg_start[seg]
            a, ab = self._xy[start], self._xy[start + 1] - self._xy[start]
            length2 = np.einsum("ij,ij->i", ab, ab)
            t = np.clip(np.einsum("ij,ij->i", xy[point] - a, ab) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
            dist = np.hypot(*(a + t[:, None] * ab - xy[point]).T)
            order = np.lexsort((dist, point))
            best = order[np.r_[True, point[order][1:] != point[order][:-1]]]
            best = best[dist[best] <= max_snap_m]
            for i, snap in zip(point[best].tolist(), self._place(seg[best], t[best], dist[best]), strict=True):
                results[i] = snap
        return [OffNetwork(lon_i, lat_i, max_snap_m) if r is None else r
                for r, lon_i, lat_i in zip(results, qlon.tolist(), qlat.tolist(), strict=True)]

    def _place(self, seg: IntArray, t: FloatArray, distance_m: FloatArray) -> list[Snap]:
        """Snaps at fraction t along segments, as the edges through those points see them."""
        net = self._network
        start = self._seg_start[seg]
        link = self._seg_link[seg]
        lon = net.shape_lon[start] + t * (net.shape_lon[start + 1] - net.shape_lon[start])
        lat = net.shape_lat[start] + t * (net.shape_lat[start + 1] - net.shape_lat[start])
        chain = net.shape_chain_m
        forward, backward = self._edge_of_link[link, 0], self._edge_of_link[link, 1]
        length = net.edge_length_m[np.where(forward >= 0, forward, backward)].astype(np.float64)
        along = np.clip(chain[start] + t * (chain[start + 1] - chain[start]) - chain[net.link_shape_ptr[link]],
                        0.0, length)
        # A link travelled only backwards is seen through its backward edge, offsets measured from its end.
        two_way = (forward >= 0) & (backward >= 0)
        edge = np.where(forward >= 0, forward, backward)
        offset = np.where(forward >= 0, along, length - along)
        reverse = np.where(two_way, backward, -1)
        reverse_offset = np.where(two_way, length - along, 0.0)
        return [Snap(*row) for row in zip(lon.tolist(), lat.tolist(), distance_m.tolist(), link.tolist(),
                                          edge.tolist(), offset.tolist(), reverse.tolist(),
                                          reverse_offset.tolist(), strict=True)]


def _main_component_links(network: RoadNetwork) -> npt.NDArray[np.bool_]:
    """Links with an edge whose two ends lie in the largest strongly connected component."""
    n = network.n_nodes
    # Built from pairs, which merges parallel edges: scipy's strong-components search loops forever on a
    # CSR matrix with duplicate entries.
    graph = csr_matrix((np.ones(network.n_edges), (network.edge_from, network.edge_to)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    main = label == np.bincount(label).argmax()
    inside = main[network.edge_from] & main[network.edge_to]
    links = np.zeros(network.link_way.shape[0], dtype=np.bool_)
    links[network.edge_link[inside]] = True
    return links


def _edges_by_link(network: RoadNetwork) -> npt.NDArray[np.int32]:
    """(links, 2): the forward and the backward edge of each link, -1 where that direction is not allowed."""
    table = np.full((network.link_way.shape[0], 2), -1, dtype=np.int32)
    edges = np.arange(network.n_edges, dtype=np.int32)
    table[network.edge_link, np.where(network.edge_forward, 0, 1)] = edges
    return table

