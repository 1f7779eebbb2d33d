"""An in-memory spatial index of cameras that stays fast at national scale (millions of cameras).

Cameras are stored column-wise in numpy arrays, one slot per camera, never one Python object per camera
(apart from the id string). A k-d tree over unit-sphere ECEF vectors answers "which slots lie within
radius_m of (lon, lat)": on the unit sphere a great-circle radius is exactly a chord radius, so the search
has no projection distortion and works at the poles and across the antimeridian.

Updates never rebuild the tree one by one. A new or moved camera is appended to a "pending" tail that
queries scan with numpy; a moved or removed camera leaves a tombstone (its slot is marked dead and
offline). The tree is rebuilt over all slots once the pending tail passes ``rebuild_threshold``, and
tombstones are compacted away when they pass a quarter of the slots. Attribute-only changes (status,
direction, field of view, range, PTZ) are written in place.

Not thread-safe: one writer, and no reads while it writes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from citylink.domain.cameras import Camera, CameraStatus
from citylink.geo.distance import EARTH_RADIUS_M, FloatArray, haversine_m_many

BoolArray = npt.NDArray[np.bool_]
SlotArray = npt.NDArray[np.intp]

DEFAULT_REBUILD_THRESHOLD = 2048
_COMPACT_FRACTION = 0.25
# Widen the tree's chord radius by a hair so float rounding never drops a camera on the boundary;
# the exact haversine filter afterwards decides.
_CHORD_SLACK = 1e-9
_COLUMNS = ("_ids", "_lon", "_lat", "_direction", "_fov", "_range", "_ptz", "_online", "_alive")


@dataclass(frozen=True, slots=True)
class Candidates:
    """Online cameras within a radius of a point, as parallel arrays (one entry per camera, unordered)."""

    slots: SlotArray
    distance_m: FloatArray  # great-circle, from the query point
    lon: FloatArray
    lat: FloatArray
    direction_deg: FloatArray  # NaN when unknown
    fov_deg: FloatArray
    view_range_m: FloatArray
    ptz: BoolArray

    def __len__(self) -> int:
        return int(self.slots.shape[0])


def check_query(lon: float, lat: float, radius_m: float) -> None:
    """Refuse a search around something that is not a WGS84 position, or with a radius that is not positive."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"(lon, lat) = ({lon}, {lat}) is not a WGS84 position")
    if not radius_m > 0.0:
        raise ValueError(f"radius_m must be positive, got {radius_m}")


def _unit_vectors(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """(n, 3) unit-sphere ECEF vectors for (lon, lat) in degrees."""
    lmb, phi = np.radians(lon), np.radians(lat)
    cos_phi = np.cos(phi)
    return np.ascontiguousarray(np.column_stack((cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi))))


def _chord(radius_m: float) -> float:
    """The unit-sphere chord that spans a great-circle distance of radius_m."""
    angle = min(radius_m / EARTH_RADIUS_M, math.pi)
    return 2.0 * math.sin(angle / 2.0) * (1.0 + _CHORD_SLACK) + _CHORD_SLACK


def _as_float(values: npt.ArrayLike, name: str, n: int) -> FloatArray:
    array = np.array(values, dtype=np.float64)  # a copy: the index owns its columns
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape}, expected ({n},) like ids")
    return array


def _as_bool(values: npt.ArrayLike, name: str, n: int) -> BoolArray:
    array = np.array(values, dtype=np.bool_)
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape}, expected ({n},) like ids")
    return array


def _check_columns(
    lon: FloatArray, lat: FloatArray, direction_deg: FloatArray, fov_deg: FloatArray, view_range_m: FloatArray
) -> None:
    if not np.all((lon >= -180.0) & (lon <= 180.0)):
        raise ValueError("lon must be within [-180, 180]")
    if not np.all((lat >= -90.0) & (lat <= 90.0)):
        raise ValueError("lat must be within [-90, 90]")
    known = ~np.isnan(direction_deg)
    if not np.all((direction_deg[known] >= 0.0) & (direction_deg[known] < 360.0)):
        raise ValueError("direction_deg must be within [0, 360) or NaN for unknown")
    if not np.all((fov_deg > 0.0) & (fov_deg <= 360.0)):
        raise ValueError("fov_deg must be within (0, 360]")
    if not np.all((view_range_m > 0.0) & np.isfinite(view_range_m)):
        raise ValueError("view_range_m must be positive and finite")


class CameraIndex:
    """Cameras by position, for "which online cameras are near this point" at national scale."""

    def __init__(self, *, rebuild_threshold: int = DEFAULT_REBUILD_THRESHOLD) -> None:
        if rebuild_threshold < 1:
            raise ValueError(f"rebuild_threshold must be at least 1, got {rebuild_threshold}")
        self._rebuild_threshold = rebuild_threshold
        # by slot, "" for a tombstone; an object array, unlike a list, is not walked by the cyclic GC
        self._ids: npt.NDArray[np.object_] = np.empty(0, dtype=object)
        self._slot_of: dict[str, int] = {}
        self._n = 0  # slots in use (live and dead)
        self._dead = 0
        self._lon: FloatArray = np.empty(0)
        self._lat: FloatArray = np.empty(0)
        self._direction: FloatArray = np.empty(0)
        self._fov: FloatArray = np.empty(0)
        self._range: FloatArray = np.empty(0)
        self._ptz: BoolArray = np.empty(0, dtype=np.bool_)
        self._online: BoolArray = np.empty(0, dtype=np.bool_)  # False for tombstones too
        self._alive: BoolArray = np.empty(0, dtype=np.bool_)
        self._tree: cKDTree | None = None
        self._tree_n = 0  # slots [0, _tree_n) are in the tree; [_tree_n, _n) are pending

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_cameras(
        cls, cameras: Iterable[Camera], *, rebuild_threshold: int = DEFAULT_REBUILD_THRESHOLD
    ) -> CameraIndex:
        """Index cameras; a later camera with the same id replaces an earlier one."""
        latest: dict[str, Camera] = {}
        for camera in cameras:
            latest[camera.id] = camera
        rows = list(latest.values())
        return cls.from_arrays(
            ids=[c.id for c in rows],
            lon=[c.lon for c in rows],
            lat=[c.lat for c in rows],
            direction_deg=[math.nan if c.direction_deg is None else c.direction_deg for c in rows],
            fov_deg=[c.fov_deg for c in rows],
            view_range_m=[c.view_range_m for c in rows],
            ptz=[c.ptz for c in rows],
            online=[c.status is CameraStatus.ONLINE for c in rows],
            rebuild_threshold=rebuild_threshold,
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        ids: Sequence[str] | npt.NDArray[np.str_],
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        direction_deg: npt.ArrayLike,
        fov_deg: npt.ArrayLike,
        view_range_m: npt.ArrayLike,
        ptz: npt.ArrayLike,
        online: npt.ArrayLike,
        rebuild_threshold: int = DEFAULT_REBUILD_THRESHOLD,
    ) -> CameraIndex:
        """Bulk load from parallel columns (direction_deg NaN = unknown); builds the tree once."""
        id_list = [str(i) for i in ids]
        n = len(id_list)
        index = cls(rebuild_threshold=rebuild_threshold)
        index._lon = _as_float(lon, "lon", n)
        index._lat = _as_float(lat, "lat", n)
        index._direction = _as_float(direction_deg, "direction_deg", n)
        index._fov = _as_float(fov_deg, "fov_deg", n)
        index._range = _as_float(view_range_m, "view_range_m", n)
        index._ptz = _as_bool(ptz, "ptz", n)
        index._online = _as_bool(online, "online", n)
        index._alive = np.ones(n, dtype=np.bool_)
        _check_columns(index._lon, index._lat, index._direction, index._fov, index._range)
        index._slot_of = {camera_id: slot for slot, camera_id in enumerate(id_list)}
        if len(index._slot_of) != n:
            raise ValueError(f"ids are not unique: {n - len(index._slot_of)} duplicates")
        if "" in index._slot_of:
            raise ValueError("ids must not be empty")
        index._ids = np.array(id_list, dtype=object)
        index._n = n
        index.rebuild()
        return index

    def rebuild(self) -> None:
        """Put every slot in the tree (compacting tombstones first when there are many)."""
        if self._dead > _COMPACT_FRACTION * self._n:
            self._compact()
        self._tree = (
            cKDTree(_unit_vectors(self._lon[: self._n], self._lat[: self._n]), balanced_tree=False)
            if self._n
            else None
        )
        self._tree_n = self._n

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self._n])
        for name in _COLUMNS:
            setattr(self, name, getattr(self, name)[keep])
        self._slot_of = {camera_id: slot for slot, camera_id in enumerate(self._ids.tolist())}
        self._n = int(keep.shape[0])
        self._dead = 0
        self._tree_n = 0

    # -- updates ----------------------------------------------------------------------------------

    def upsert(self, camera: Camera) -> None:
        """Add a camera or replace it. Moves go to the pending tail; other changes are written in place."""
        slot = self._slot_of.get(camera.id)
        if slot is not None and (self._lon[slot] != camera.lon or self._lat[slot] != camera.lat):
            if slot >= self._tree_n:  # pending slots are scanned, so they can move in place
                self._lon[slot], self._lat[slot] = camera.lon, camera.lat
            else:
                self._kill(slot)
                slot = None
        if slot is None:
            slot = self._append(camera.id, camera.lon, camera.lat)
        self._direction[slot] = math.nan if camera.direction_deg is None else camera.direction_deg
        self._fov[slot] = camera.fov_deg
        self._range[slot] = camera.view_range_m
        self._ptz[slot] = camera.ptz
        self._online[slot] = camera.status is CameraStatus.ONLINE
        if self._n - self._tree_n > self._rebuild_threshold:
            self.rebuild()

    def replace_all(self, cameras: Iterable[Camera]) -> None:
        """Make the index hold exactly these cameras (after a bulk change made by another process)."""
        keep = set()
        for camera in cameras:
            self.upsert(camera)
            keep.add(camera.id)
        for camera_id in [c for c in self._slot_of if c not in keep]:
            self.remove(camera_id)

    def remove(self, camera_id: str) -> bool:
        """Forget a camera; False when it was not indexed."""
        slot = self._slot_of.get(camera_id)
        if slot is None:
            return False
        self._kill(slot)
        if self._dead > max(self._rebuild_threshold, _COMPACT_FRACTION * self._n):
            self.rebuild()
        return True

    def set_online(self, camera_id: str, online: bool) -> None:
        """Mark a camera online or offline; KeyError when it is not indexed."""
        slot = self._slot_of.get(camera_id)
        if slot is None:
            raise KeyError(camera_id)
        self._online[slot] = online

    def _kill(self, slot: int) -> None:
        del self._slot_of[self._ids[slot]]
        self._ids[slot] = ""
        self._alive[slot] = False
        self._online[slot] = False
        self._dead += 1

    def _append(self, camera_id: str, lon: float, lat: float) -> int:
        if self._n == self._lon.shape[0]:
            self._grow(self._n + self._n // 4 + 1024)
        slot = self._n
        self._n += 1
        self._ids[slot] = camera_id
        self._slot_of[camera_id] = slot
        self._lon[slot], self._lat[slot] = lon, lat
        self._alive[slot] = True
        return slot

    def _grow(self, capacity: int) -> None:
        for name in _COLUMNS:
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype) if name != "_ids" else np.full(capacity, "", dtype=object)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    # -- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self._slot_of

    def id_at(self, slot: int) -> str:
        """The camera id in a slot returned by candidates_within (valid until the next update)."""
        camera_id: str = self._ids[slot]
        return camera_id

    @property
    def pending(self) -> int:
        """Slots added since the tree was last built, scanned linearly by queries."""
        return self._n - self._tree_n

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the columns, the tree's points and the id map, in bytes."""
        columns = sum(int(getattr(self, name).nbytes) for name in _COLUMNS)
        tree = 0 if self._tree is None else int(self._tree.data.nbytes + self._tree.indices.nbytes)
        # per id: a str object (49 bytes + its characters) and a dict entry with its hash slots, roughly
        ids = sum(len(i) for i in self._slot_of) + len(self._slot_of) * (49 + 28 + 3 * 8 * 2)
        return columns + tree + ids

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of the cameras held, or None when there are none."""
        alive = self._alive[: self._n]
        if not alive.any():
            return None
        lon, lat = self._lon[: self._n][alive], self._lat[: self._n][alive]
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def candidates_within(self, lon: float, lat: float, radius_m: float) -> Candidates:
        """Online cameras whose great-circle distance to (lon, lat) is at most radius_m, unordered."""
        check_query(lon, lat, radius_m)
        slots = self._tree_slots(lon, lat, radius_m)
        if self._n > self._tree_n:
            slots = np.concatenate((slots, self._pending_slots(lat, radius_m)))
        slots = slots[self._online[slots]]
        slot_lon, slot_lat = self._lon[slots], self._lat[slots]
        distance_m = haversine_m_many(slot_lon, slot_lat, lon, lat)
        near = distance_m <= radius_m
        if not near.all():
            slots, distance_m = slots[near], distance_m[near]
            slot_lon, slot_lat = slot_lon[near], slot_lat[near]
        return Candidates(
            slots=slots,
            distance_m=distance_m,
            lon=slot_lon,
            lat=slot_lat,
            direction_deg=self._direction[slots],
            fov_deg=self._fov[slots],
            view_range_m=self._range[slots],
            ptz=self._ptz[slots],
        )

    def _tree_slots(self, lon: float, lat: float, radius_m: float) -> SlotArray:
        if self._tree is None:
            return np.empty(0, dtype=np.intp)
        lmb, phi = math.radians(lon), math.radians(lat)
        cos_phi = math.cos(phi)
        point = (cos_phi * math.cos(lmb), cos_phi * math.sin(lmb), math.sin(phi))
        found = self._tree.query_ball_point(point, _chord(radius_m), return_sorted=False)
        return np.array(found, dtype=np.intp)

    def _pending_slots(self, lat: float, radius_m: float) -> SlotArray:
        # A point within radius_m is never further than radius_m in latitude alone: a cheap exact prefilter.
        band_deg = math.degrees(radius_m / EARTH_RADIUS_M) * (1.0 + _CHORD_SLACK) + _CHORD_SLACK
        pending_lat = self._lat[self._tree_n : self._n]
        return np.flatnonzero(np.abs(pending_lat - lat) <= band_deg) + self._tree_n
