"""Areas on the earth for disaster selection: lon/lat polygons, a local metric projection, camera views.

Polygons are in (lon, lat) degrees, as GeoJSON. Areas in m² are measured in an azimuthal equidistant
projection centred on the area, which keeps distances from the centre exact and distorts a city-sized
area by well under a percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon

from citylink.domain.events import Area
from citylink.geo.distance import EARTH_RADIUS_M, FloatArray, haversine_m_many

BoolArray = npt.NDArray[np.bool_]
GeometryArray = npt.NDArray[np.object_]

_SPHERE = Geod(a=EARTH_RADIUS_M, b=EARTH_RADIUS_M)  # the same sphere as haversine_m
_ARC_SEGMENTS = 32  # per sector, whatever its field of view
_DISC_SEGMENTS = 64


def circle_polygon(lon: float, lat: float, radius_m: float, *, segments: int = 64) -> Polygon:
    """A geodesic circle as a lon/lat polygon (longitudes unwrapped around lon near the antimeridian)."""
    if not radius_m > 0.0:
        raise ValueError(f"radius_m must be positive, got {radius_m}")
    if segments < 8:
        raise ValueError(f"segments must be at least 8, got {segments}")
    azimuths = np.linspace(0.0, 360.0, segments, endpoint=False)
    ring_lon, ring_lat, _ = _SPHERE.fwd(
        np.full(segments, lon), np.full(segments, lat), azimuths, np.full(segments, radius_m)
    )
    ring_lon = unwrap_lon(np.asarray(ring_lon, dtype=np.float64), lon)
    return Polygon(np.column_stack((ring_lon, np.asarray(ring_lat, dtype=np.float64))))


def area_polygon(area: Area) -> Polygon:
    """The shapely polygon of a GeoJSON Polygon area from an event."""
    shell, *holes = area.coordinates
    polygon = Polygon(shell, holes)
    if polygon.is_empty or not polygon.is_valid:
        raise ValueError(f"area is not a valid polygon: {shapely.is_valid_reason(polygon)}")
    return polygon


def unwrap_lon(lon: FloatArray, lon_ref: float) -> FloatArray:
    """Longitudes shifted by whole turns to lie within 180° of lon_ref, so shapes can cross ±180°."""
    return np.asarray(lon_ref + (lon - lon_ref + 180.0) % 360.0 - 180.0, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """A metric plane (x east, y north, metres) centred on (lon, lat)."""

    lon: float
    lat: float
    _to_xy: Transformer
    _to_lonlat: Transformer

    @classmethod
    def centred_on(cls, lon: float, lat: float) -> LocalFrame:
        crs = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +R={EARTH_RADIUS_M} +units=m +no_defs"
        lonlat = f"+proj=longlat +R={EARTH_RADIUS_M} +no_defs"
        return cls(
            lon,
            lat,
            Transformer.from_crs(lonlat, crs, always_xy=True),
            Transformer.from_crs(crs, lonlat, always_xy=True),
        )

    @classmethod
    def near(cls, lon: float, lat: float) -> LocalFrame:
        """A shared frame centred within 0.8 km of (lon, lat), for areas and lengths rather than exact distances.

        Making a frame's two transformers costs ~0.4 ms, more than the selection it serves; an offset of under a
        kilometre changes areas and lengths a few kilometres across by under a millionth. pyproj's transformers
        are thread-safe, so the frames are shared between threads.
        """
        return _frame_in_cell(round(lon / _FRAME_CELL_DEG), round(lat / _FRAME_CELL_DEG))

    def to_xy(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        x, y = self._to_xy.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._to_lonlat.transform(x, y)
        return float(lon), float(lat)

    def project(self, geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
        return shapely.transform(geometry, self._transform_xy)

    def _transform_xy(self, coords: FloatArray) -> FloatArray:
        x, y = self.to_xy(coords[:, 0], coords[:, 1])
        return np.column_stack((x, y))


_FRAME_CELL_DEG = 0.01


@lru_cache(maxsize=1024)
def _frame_in_cell(col: int, row: int) -> LocalFrame:
    return LocalFrame.centred_on(col * _FRAME_CELL_DEG, row * _FRAME_CELL_DEG)


@dataclass(frozen=True, slots=True)
class BoundingCircle:
    lon: float
    lat: float
    radius_m: float


def bounding_circle(area: Polygon | MultiPolygon, frame: LocalFrame) -> BoundingCircle:
    """A circle around the area: the planar minimum bounding circle, widened to reach every vertex."""
    projected = frame.project(area)
    circle = shapely.minimum_bounding_circle(projected)
    centre = circle.centroid
    lon, lat = frame.to_lonlat(centre.x, centre.y)
    vertices = shapely.get_coordinates(area)
    radius_m = float(haversine_m_many(vertices[:, 0], vertices[:, 1], lon, lat).max())
    return BoundingCircle(lon, lat, max(radius_m, float(shapely.minimum_bounding_radius(projected))))


def view_polygons(
    x: FloatArray,
    y: FloatArray,
    direction_deg: FloatArray,
    fov_deg: FloatArray,
    view_range_m: FloatArray,
    full_disc: BoolArray,
) -> GeometryArray:
    """Each camera's view in the plane: a sector direction ± fov/2 of radius view_range_m, or a disc."""
    views: GeometryArray = np.empty(x.shape[0], dtype=object)
    disc = full_disc | (fov_deg >= 360.0)
    if disc.any():
        angles = np.radians(np.linspace(0.0, 360.0, _DISC_SEGMENTS + 1))
        r = view_range_m[disc][:, None]
        cx, cy = x[disc][:, None], y[disc][:, None]
        ring = np.stack((cx + r * np.sin(angles), cy + r * np.cos(angles)), axis=-1)
        views[disc] = shapely.polygons(ring)
    sector = ~disc
    if sector.any():
        steps = np.linspace(-0.5, 0.5, _ARC_SEGMENTS + 1)
        angles = np.radians(direction_deg[sector][:, None] + steps * fov_deg[sector][:, None])
        r = view_range_m[sector][:, None]
        cx, cy = x[sector][:, None], y[sector][:, None]
        arc = np.stack((cx + r * np.sin(angles), cy + r * np.cos(angles)), axis=-1)
        apex = np.stack((cx, cy), axis=-1)
        views[sector] = shapely.polygons(np.concatenate((apex, arc, apex), axis=1))
    return views
