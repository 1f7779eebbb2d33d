"""Camera selection: the best cameras for a point, or every camera in an area.

The cameras come from a CandidateSource: the in-memory CameraIndex, or the store's PostGIS search
(store/camera_spatial.py). Both only find candidates; the ranking below is the same for both.

For a point, online cameras within radius_m are ranked in three tiers (see Tier): cameras that already
see the spot, cameras that can be turned to it, then the rest; each tier by distance, ties by id. When
nothing is within radius_m the search widens once to twice the radius.

For an area (a disaster), every online camera inside the polygon is ranked by how many m² of the area
its view covers: a sector direction ± fov/2 of radius view_range_m, or a full disc for PTZ cameras and
cameras with no known direction.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon

from citylink.domain.cameras import Camera, CameraStatus
from citylink.domain.selection import DEFAULT_K, DEFAULT_RADIUS_M, SelectedCamera, Selection, Tier
from citylink.geo.area import LocalFrame, bounding_circle, circle_polygon, unwrap_lon, view_polygons
from citylink.geo.camera_index import CameraIndex, Candidates
from citylink.geo.distance import FloatArray, angle_diff_deg, bearing_deg_many, haversine_m_many

__all__ = [
    "CandidateSource", "circle_polygon", "describe_camera", "rank_candidates", "select_cameras", "select_in_area",
]

IntArray = npt.NDArray[np.int64]

# The area query's bounding circle is measured on vertices; lon/lat-straight edges can bulge a little.
_AREA_MARGIN = 1.01
_AREA_MARGIN_M = 10.0


class CandidateSource(Protocol):
    """Finds the online cameras near a point; CameraIndex is one."""

    def candidates_within(self, lon: float, lat: float, radius_m: float) -> Candidates:
        """Online cameras whose great-circle distance to (lon, lat) is at most radius_m, unordered."""
        ...

    def id_at(self, slot: int) -> str:
        """The camera id of a slot in the Candidates this source returned."""
        ...


def select_cameras(
    index: CandidateSource, lon: float, lat: float, *, radius_m: float = DEFAULT_RADIUS_M, k: int = DEFAULT_K
) -> Selection:
    """The k best online cameras for the spot (lon, lat), searching radius_m, then 2 × radius_m once."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    candidates = index.candidates_within(lon, lat, radius_m)
    if len(candidates):
        return Selection(cameras=rank_candidates(index, candidates, lon, lat, k=k), radius_m=radius_m,
                         widened=False)
    wide_m = 2.0 * radius_m
    candidates = index.candidates_within(lon, lat, wide_m)
    if not len(candidates):
        return Selection(cameras=(), radius_m=wide_m, widened=True,
                         note=f"no online camera within {wide_m:.0f} m (widened from {radius_m:.0f} m)")
    return Selection(cameras=rank_candidates(index, candidates, lon, lat, k=k), radius_m=wide_m, widened=True,
                     note=f"nothing within {radius_m:.0f} m; widened to {wide_m:.0f} m")


def rank_candidates(
    index: CandidateSource, candidates: Candidates, lon: float, lat: float, *, k: int
) -> tuple[SelectedCamera, ...]:
    """The k best candidates for the spot: by tier, then distance, then id."""
    c = candidates
    if not len(c):
        return ()
    bearing = bearing_deg_many(c.lon, c.lat, lon, lat)  # camera -> spot
    known = ~np.isnan(c.direction_deg)
    off_deg = angle_diff_deg(np.where(known, c.direction_deg, 0.0), bearing)
    in_view = (off_deg <= c.fov_deg / 2.0) | (c.distance_m == 0.0)
    sees = known & in_view & (c.distance_m <= c.view_range_m)
    tier = np.where(sees, 1, np.where(~known | c.ptz, 2, 3))
    order = np.lexsort((c.distance_m, tier))
    # Keep everything tied with the k-th on (tier, distance), so ids break the tie, not slot order.
    end = min(k, order.shape[0])
    last_key = (tier[order[end - 1]], c.distance_m[order[end - 1]])
    while end < order.shape[0] and (tier[order[end]], c.distance_m[order[end]]) == last_key:
        end += 1
    top = sorted(order[:end].tolist(), key=lambda i: (tier[i], c.distance_m[i], index.id_at(int(c.slots[i]))))
    top = top[:k]
    return tuple(
        _selected(index.id_at(int(c.slots[i])), Tier(int(tier[i])), float(c.distance_m[i]), float(bearing[i]),
                  float(c.direction_deg[i]), float(c.view_range_m[i]), bool(c.ptz[i]))
        for i in top
    )


def _selected(
    camera_id: str, tier: Tier, distance_m: float, bearing: float, direction: float, view_range_m: float,
    ptz: bool,
) -> SelectedCamera:
    return SelectedCamera(
        id=camera_id,
        distance_m=round(distance_m, 1),
        bearing_deg=round(bearing, 1) % 360.0,
        tier=tier,
        reason=_reason(tier, distance_m, bearing, direction, view_range_m, ptz),
    )


def _reason(tier: Tier, distance_m: float, bearing: float, direction: float, view_range_m: float,
            ptz: bool) -> str:
    away = f"{distance_m:,.0f} m away"
    if tier is Tier.SEES:
        if distance_m == 0.0:
            return f"sees the spot: it stands on it, looking {direction:.0f}°"
        return f"sees the spot: {away}, looking {direction:.0f}°, spot at {bearing:.0f}°"
    if ptz:
        return f"PTZ, can turn to the spot {away}"
    if math.isnan(direction):
        return f"no known direction; {away}, can be turned"
    if distance_m > view_range_m:
        return f"fixed, looking {direction:.0f}° toward the spot but {away}, past its {view_range_m:,.0f} m"
    return f"fixed, looking {direction:.0f}° but the spot is at {bearing:.0f}°; {away}"


def select_in_area(index: CandidateSource, area: Polygon | MultiPolygon, *, k: int | None = None) -> Selection:
    """Every online camera inside the lon/lat area (or the k best), by m² of the area its view covers."""
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1 or None, got {k}")
    if area.is_empty or not area.is_valid:
        raise ValueError(f"area is not a valid polygon: {shapely.is_valid_reason(area)}")
    centre = area.representative_point()
    frame = LocalFrame.near(centre.x, centre.y)
    circle = bounding_circle(area, frame)
    radius_m = round(circle.radius_m, 1)
    search_m = circle.radius_m * _AREA_MARGIN + _AREA_MARGIN_M
    candidates = index.candidates_within(circle.lon, circle.lat, search_m)
    inside = shapely.intersects_xy(area, unwrap_lon(candidates.lon, centre.x), candidates.lat)
    c_slots = candidates.slots[inside]
    if not c_slots.shape[0]:
        return Selection(cameras=(), radius_m=radius_m, widened=False,
                         note="no online camera inside the area")
    lon, lat = candidates.lon[inside], candidates.lat[inside]
    direction = candidates.direction_deg[inside]
    ptz = candidates.ptz[inside]
    view_range = candidates.view_range_m[inside]
    turnable = np.isnan(direction) | ptz
    x, y = frame.to_xy(lon, lat)
    views = view_polygons(x, y, direction, candidates.fov_deg[inside], view_range, turnable)
    coverage: FloatArray = np.round(shapely.area(shapely.intersection(views, frame.project(area))))
    distance_m = haversine_m_many(lon, lat, centre.x, centre.y)
    bearing = bearing_deg_many(lon, lat, centre.x, centre.y)
    ids = [index.id_at(slot) for slot in c_slots.tolist()]
    order = sorted(range(len(ids)), key=lambda i: (-coverage[i], distance_m[i], ids[i]))
    if k is not None:
        order = order[:k]
    cameras = tuple(
        SelectedCamera(
            id=ids[i],
            distance_m=round(float(distance_m[i]), 1),
            bearing_deg=round(float(bearing[i]), 1) % 360.0,
            tier=Tier.CAN_TURN if turnable[i] else (Tier.SEES if coverage[i] > 0 else Tier.NEARBY),
            reason=_area_reason(float(coverage[i]), bool(ptz[i]), float(direction[i])),
        )
        for i in order
    )
    total = len(ids)
    shown = f"best {len(cameras)} of {total}" if len(cameras) < total else f"{total}"
    noun = "camera" if total == 1 else "cameras"
    return Selection(cameras=cameras, radius_m=radius_m, widened=False,
                     note=f"{shown} online {noun} inside the area")


def _area_reason(coverage_m2: float, ptz: bool, direction: float) -> str:
    covered = f"{_round_area(coverage_m2):,.0f} m²"
    if ptz:
        return f"inside the area; PTZ, can cover {covered} of it by turning"
    if math.isnan(direction):
        return f"inside the area; no known direction, {covered} of it within its range"
    return f"inside the area; view covers {covered} of it"


def _round_area(area_m2: float) -> float:
    """Three significant figures: 12,345 m² reads as 12,300 m²."""
    if area_m2 < 1000.0:
        return round(area_m2)
    return round(area_m2, 2 - math.floor(math.log10(area_m2)))


def describe_camera(camera: Camera, lon: float, lat: float) -> SelectedCamera:
    """How one given camera relates to the spot (an operator adding it by hand), by the same tier rules."""
    single = CameraIndex.from_cameras([camera.model_copy(update={"status": CameraStatus.ONLINE})])
    candidates = single.candidates_within(lon, lat, _ANYWHERE_M)
    return rank_candidates(single, candidates, lon, lat, k=1)[0]


_ANYWHERE_M = 20_100_000.0  # more than half the earth's circumference: every camera is a candidate
