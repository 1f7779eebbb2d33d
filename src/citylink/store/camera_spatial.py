"""Camera selection in the database: PostGIS finds the candidates, geo/selection.py ranks them.

PostgisCameras is a CandidateSource over the cameras table (geography column from migration 0003), so
select_cameras and select_in_area run unchanged on it and give the same answer as on the in-memory
CameraIndex holding the same cameras. PostGIS only narrows the table down through its GiST index; whether
a camera is within the radius is decided by the same haversine, on the same float64 lon/lat, as the
in-memory index, so cameras right on the boundary fall the same way in both.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from citylink.domain.cameras import CameraStatus
from citylink.geo.camera_index import Candidates, check_query
from citylink.geo.distance import haversine_m_many

__all__ = ["PostgisCameras"]

# PostGIS measures on a sphere of radius 6,371,008.77 m, ours is 6,371,008.8 m, and the two formulas round
# differently: the database searches a little wider, and the exact filter below decides.
_SEARCH_SLACK = 1.0001
_SEARCH_SLACK_M = 1.0

# use_spheroid => false: the sphere is cheaper and closer to our haversine than the WGS84 spheroid.
# NaN for an unknown direction is what Candidates expects.
_WITHIN = text("""
SELECT id, lon, lat, COALESCE(direction_deg, 'NaN'::float8), fov_deg, view_range_m, ptz
FROM cameras
WHERE status = :online
  AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :search_m, false)
""")


class PostgisCameras:
    """The store's online cameras near a point, found with ST_DWithin on PostgreSQL with PostGIS.

    Meant for one selection inside one transaction: the ids of every search are kept, so the slots of
    each Candidates it returned stay valid for the object's life.
    """

    def __init__(self, session: Session) -> None:
        dialect = session.get_bind().dialect.name
        if dialect != "postgresql":
            raise ValueError(f"PostGIS camera selection needs PostgreSQL, not {dialect}")
        self._session = session
        self._ids: list[str] = []

    def candidates_within(self, lon: float, lat: float, radius_m: float) -> Candidates:
        """Online cameras whose great-circle distance to (lon, lat) is at most radius_m, unordered."""
        check_query(lon, lat, radius_m)
        rows = self._session.execute(_WITHIN, {
            "online": CameraStatus.ONLINE.value, "lon": lon, "lat": lat,
            "search_m": radius_m * _SEARCH_SLACK + _SEARCH_SLACK_M,
        }).all()
        first = len(self._ids)
        self._ids.extend(row[0] for row in rows)
        slots = np.arange(first, len(self._ids), dtype=np.intp)
        # One contiguous array per column, like the index's: numpy's vector maths may round a strided
        # view differently, and the distances must match the index's to the last bit.
        cam_lon, cam_lat, direction_deg, fov_deg, view_range_m = (
            np.array([row[1:6] for row in rows], dtype=np.float64).reshape(len(rows), 5).T.copy())
        ptz = np.array([row[6] for row in rows], dtype=np.bool_)
        distance_m = haversine_m_many(cam_lon, cam_lat, lon, lat)
        near = distance_m <= radius_m
        return Candidates(slots=slots[near], distance_m=distance_m[near], lon=cam_lon[near], lat=cam_lat[near],
                          direction_deg=direction_deg[near], fov_deg=fov_deg[near],
                          view_range_m=view_range_m[near], ptz=ptz[near])

    def id_at(self, slot: int) -> str:
        """The camera id of a slot in a Candidates this object returned."""
        return self._ids[slot]
