"""What a route passes: cameras near it, traffic signals on it, and its streets, each in order of passing.

Cameras come in as plain arrays (ids, lon, lat) so this module needs nothing from the camera store; the
caller passes the cameras that are online. Distances to the route are measured in a metric plane centred
on the route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from citylink.geo.area import LocalFrame
from citylink.geo.distance import EARTH_RADIUS_M
from citylink.geo.roads import RoadNetwork
from citylink.geo.route_results import Route

DEFAULT_CAMERA_BUFFER_M = 50.0
_M_PER_DEG_LAT = EARTH_RADIUS_M * np.pi / 180.0


@dataclass(frozen=True, slots=True)
class CameraOnRoute:
    camera_id: str
    lon: float
    lat: float
    distance_m: float  # from the route
    along_m: float  # where along the route it is passed
    eta_s: float  # expected time from the start of the route to that point


@dataclass(frozen=True, slots=True)
class SignalOnRoute:
    node: int
    osm_id: int
    lon: float
    lat: float
    along_m: float
    eta_s: float  # expected passing time: the route's cumulative ETA at the signal


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """A stretch of consecutive edges on one street, for a route description."""

    name: str  # "" for an unnamed road
    road_class: str
    distance_m: float
    eta_s: float


def cameras_along_route(
    route: Route,
    camera_ids: Sequence[str],
    camera_lon: npt.ArrayLike,
    camera_lat: npt.ArrayLike,
    *,
    within_m: float = DEFAULT_CAMERA_BUFFER_M,
) -> list[CameraOnRoute]:
    """The cameras within within_m of the route, in the order the route passes them."""
    lon, lat = np.asarray(camera_lon, dtype=np.float64), np.asarray(camera_lat, dtype=np.float64)
    if not (lon.shape == lat.shape == (len(camera_ids),)):
        raise ValueError("camera_ids, camera_lon and camera_lat must have the same length")
    min_lon, min_lat, max_lon, max_lat = route.geometry.bounds
    margin_lat = within_m / _M_PER_DEG_LAT * 1.01
    margin_lon = margin_lat / max(np.cos(np.radians(max(abs(min_lat), abs(max_lat)))), 1e-6)
    # A coarse box first, so a national camera set costs one vectorised comparison.
    box = np.flatnonzero((lon >= min_lon - margin_lon) & (lon <= max_lon + margin_lon)
                         & (lat >= min_lat - margin_lat) & (lat <= max_lat + margin_lat))
    if box.shape[0] == 0:
        return []
    centre = route.geometry.centroid
    frame = LocalFrame.near(centre.x, centre.y)
    route_xy = np.column_stack(frame.to_xy(*np.asarray(route.geometry.coords).T))
    line = shapely.linestrings(route_xy)
    cx, cy = frame.to_xy(lon[box], lat[box])
    points = shapely.points(cx, cy)
    distance = shapely.distance(line, points)
    near = np.flatnonzero(distance <= within_m)
    along = shapely.line_locate_point(line, points[near])
    # Planar length along the line differs from the route's great-circle length by a few parts per million.
    along_m = along * (route.distance_m / line.length if line.length > 0 else 0.0)
    eta = route.eta_at_m(along_m)
    order = np.argsort(along_m, kind="stable")
    return [
        CameraOnRoute(camera_ids[int(box[near[i]])], float(lon[box[near[i]]]), float(lat[box[near[i]]]),
                      float(distance[near[i]]), float(along_m[i]), float(eta[i]))
        for i in order
    ]


def signals_on_route(network: RoadNetwork, route: Route) -> list[SignalOnRoute]:
    """The traffic signals at the route's nodes with the expected time the route passes each."""
    on = np.flatnonzero(network.node_signal[route.nodes])
    along, eta = route.node_along_m, route.node_eta_s
    return [
        SignalOnRoute(int(route.nodes[i]), int(network.node_osm_id[route.nodes[i]]),
                      float(network.node_lon[route.nodes[i]]), float(network.node_lat[route.nodes[i]]),
                      float(along[i]), float(eta[i]))
        for i in on
    ]


def route_legs(network: RoadNetwork, route: Route) -> list[RouteLeg]:
    """The route as streets: consecutive edges with the same name and class merged."""
    legs: list[RouteLeg] = []
    for edge, distance_m, eta_s in zip(route.edges.tolist(), (route.end_m - route.start_m).tolist(),
                                       route.time_s.tolist(), strict=True):
        name, road_class = network.edge_name(edge), network.edge_class(edge)
        if legs and legs[-1].name == name and legs[-1].road_class == road_class:
            last = legs[-1]
            legs[-1] = RouteLeg(name, road_class, last.distance_m + distance_m, last.eta_s + eta_s)
        else:
            legs.append(RouteLeg(name, road_class, distance_m, eta_s))
    return legs
