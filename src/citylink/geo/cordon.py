"""The escape-route cordon: the roads a vehicle or a person on foot can reach from a spot within T minutes.

One Dijkstra with a time limit gives every node reached in time. Each edge out of a reached node is
reached for as far as the remaining time carries: fully, or cut at the boundary. A cut edge whose far
node is not reached in time is an **exit**: a road along which someone leaves the area, where an operator
would watch. A cut edge whose far node is reached (by a quicker way) is a gap inside the area, not an exit.
The profile (car or foot) is the router's network's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiLineString, mapping

from citylink.geo.distance import FloatArray
from citylink.geo.roads import IntArray
from citylink.geo.routing import Router
from citylink.geo.snapping import DEFAULT_MAX_SNAP_M, OffNetwork, Snap

DEFAULT_MINUTES = 3.0


@dataclass(frozen=True, slots=True)
class CordonExit:
    edge: int
    lon: float  # where the reachable part of the road ends
    lat: float
    name: str
    road_class: str


@dataclass(frozen=True, slots=True, eq=False)
class Cordon:
    origin: Snap
    minutes: float
    nodes: IntArray  # reached in time
    node_time_s: FloatArray
    edges: IntArray  # directed edges reached, fully or in part
    start_m: FloatArray  # the reached piece of each edge, metres from its from-node
    end_m: FloatArray
    exits: tuple[CordonExit, ...]
    length_m: float  # of road reached, each stretch counted once whichever way it is travelled
    geometry: MultiLineString  # the reached roads, each stretch drawn once

    def to_geojson(self) -> dict[str, Any]:
        """A FeatureCollection: the reached roads, then one point per exit."""
        features: list[dict[str, Any]] = [
            {"type": "Feature", "properties": {"kind": "reach", "minutes": self.minutes},
             "geometry": mapping(self.geometry)},
        ]
        features += [
            {"type": "Feature", "properties": {"kind": "exit", "edge": e.edge, "name": e.name, "class": e.road_class},
             "geometry": {"type": "Point", "coordinates": [e.lon, e.lat]}}
            for e in self.exits
        ]
        return {"type": "FeatureCollection", "features": features}


def cordon(
    router: Router,
    point: tuple[float, float],
    *,
    minutes: float = DEFAULT_MINUTES,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Cordon | OffNetwork:
    """What can be reached from the (lon, lat) point within minutes, and where that area's roads leave it."""
    if not minutes > 0.0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    origin = router.snapper.snap(point[0], point[1], max_snap_m=max_snap_m)
    if isinstance(origin, OffNetwork):
        return origin
    return cordon_from(router, origin, minutes=minutes)


def cordon_from(router: Router, origin: Snap, *, minutes: float = DEFAULT_MINUTES) -> Cordon:
    """The cordon around an already snapped point (e.g. a new sighting placed by the caller)."""
    net = router.network
    budget_s = minutes * 60.0
    weights = router.edge_time_s
    times = router.times_from(origin, limit_s=budget_s)
    length = net.edge_length_m.astype(np.float64)

    left = budget_s - times[net.edge_from]  # time left on leaving each edge's from-node
    out = np.flatnonzero((left > 0.0) & np.isfinite(weights))
    fraction = np.minimum(left[out] / weights[out], 1.0)
    edge_ids, start_m, end_m = out.astype(np.int32), np.zeros(out.shape[0]), fraction * length[out]
    for edge, offset in origin.placements():  # the road the origin stands on, from the origin onwards
        if not np.isfinite(weights[edge]):
            continue
        reach = min(float(length[edge]), offset + budget_s / weights[edge] * length[edge])
        same = np.flatnonzero(edge_ids == edge)
        if same.shape[0] and end_m[same[0]] >= offset:  # also reached from its from-node, past the origin
            end_m[same[0]] = max(end_m[same[0]], reach)
        else:
            edge_ids = np.append(edge_ids, np.int32(edge))
            start_m, end_m = np.append(start_m, offset), np.append(end_m, reach)

    cut = end_m < length[edge_ids]
    exit_ = cut & ~(times[net.edge_to[edge_ids]] <= budget_s)
    exits = _exits(router, edge_ids[exit_], end_m[exit_])
    reached = np.flatnonzero(times <= budget_s).astype(np.int32)
    lo, hi = _merged(net.edge_chain_m(edge_ids, start_m), net.edge_chain_m(edge_ids, end_m))
    return Cordon(origin, minutes, reached, times[reached], edge_ids, start_m, end_m, exits,
                  float((hi - lo).sum()), _geometry(router, lo, hi))


def _exits(router: Router, edges: IntArray, at_m: FloatArray) -> tuple[CordonExit, ...]:
    net = router.network
    coords, _ = net.edge_coords(edges, at_m, at_m)
    points = coords[0::2]  # each piece is two copies of its cut point
    return tuple(
        CordonExit(e, lon, lat, name, road_class)
        for e, (lon, lat), name, road_class in zip(edges.tolist(), points.tolist(), net.edge_names(edges),
                                                   net.edge_classes(edges), strict=True)
    )


def _merged(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The union of chainage intervals (a, b) in either order, as sorted disjoint (lo, hi) intervals.

    Links lie apart on the chainage axis, so intervals of different links never merge.
    """
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    reach = np.maximum.accumulate(hi)
    starts = np.r_[True, lo[1:] > reach[:-1]] if lo.shape[0] else np.zeros(0, dtype=np.bool_)
    group = np.cumsum(starts) - 1
    merged_hi = np.full(int(starts.sum()), -np.inf)
    np.maximum.at(merged_hi, group, hi)
    return lo[starts], merged_hi


def _geometry(router: Router, lo: FloatArray, hi: FloatArray) -> MultiLineString:
    keep = hi > lo
    coords, piece = router.network.chain_coords(lo[keep], hi[keep])
    if coords.shape[0] == 0:
        return MultiLineString()
    return shapely.multilinestrings(shapely.linestrings(coords, indices=piece))
