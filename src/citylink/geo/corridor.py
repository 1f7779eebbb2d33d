"""How far a point is from a path: the safe-return corridor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from shapely.geometry import LineString, Point

from citylink.geo.area import LocalFrame


def distance_from_path_m(path: Sequence[tuple[float, float]], lon: float, lat: float) -> float:
    """Metres from (lon, lat) to the nearest point of the path (lon, lat pairs), in a plane centred on the point."""
    frame = LocalFrame.centred_on(lon, lat)
    xs, ys = frame.to_xy(np.array([p[0] for p in path]), np.array([p[1] for p in path]))
    line = LineString(np.column_stack((xs, ys))) if len(path) > 1 else Point(xs[0], ys[0])
    return float(line.distance(Point(0.0, 0.0)))
