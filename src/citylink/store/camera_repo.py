"""The camera registry in the store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citylink.domain.cameras import Camera, CameraStatus
from citylink.store.tables import CameraRow

_FIELDS = ("name", "lon", "lat", "direction_deg", "fov_deg", "view_range_m", "ptz", "purpose", "status", "agency",
           "source")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    created: int
    updated: int
    unchanged: int


def to_camera(row: CameraRow) -> Camera:
    return Camera(id=row.id, name=row.name, lon=row.lon, lat=row.lat, direction_deg=row.direction_deg,
                  fov_deg=row.fov_deg, view_range_m=row.view_range_m, ptz=row.ptz, purpose=row.purpose,
                  stream_urls=tuple(row.stream_urls), status=CameraStatus(row.status), agency=row.agency,
                  source=row.source)


def _values(camera: Camera) -> dict[str, object]:
    values: dict[str, object] = {f: getattr(camera, f) for f in _FIELDS}
    values["status"] = camera.status.value
    values["stream_urls"] = list(camera.stream_urls)
    return values


def upsert_many(session: Session, cameras: Iterable[Camera], *, now: datetime) -> UpsertCounts:
    created = updated = unchanged = 0
    batch = list(cameras)
    existing: dict[str, CameraRow] = {}
    for start in range(0, len(batch), _CHUNK):  # SQLite caps the number of bound parameters
        ids = [c.id for c in batch[start:start + _CHUNK]]
        existing.update((r.id, r) for r in session.execute(select(CameraRow).where(CameraRow.id.in_(ids))).scalars())
    for camera in batch:
        values = _values(camera)
        row = existing.get(camera.id)
        if row is None:
            session.add(CameraRow(id=camera.id, updated_at=now, **values))
            created += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = now
            updated += 1
        else:
            unchanged += 1
    return UpsertCounts(created, updated, unchanged)


def get(session: Session, camera_id: str) -> Camera | None:
    row = session.get(CameraRow, camera_id)
    return to_camera(row) if row else None


def delete(session: Session, camera_id: str) -> bool:
    row = session.get(CameraRow, camera_id)
    if row is None:
        return False
    session.delete(row)
    return True


def all_cameras(session: Session) -> list[Camera]:
    return [to_camera(r) for r in session.execute(select(CameraRow)).scalars()]


def page(session: Session, *, bbox: tuple[float, float, float, float] | None, status: CameraStatus | None,
         offset: int, limit: int) -> tuple[int, list[Camera]]:
    query = select(CameraRow)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        query = query.where(CameraRow.lon.between(min_lon, max_lon), CameraRow.lat.between(min_lat, max_lat))
    if status is not None:
        query = query.where(CameraRow.status == status.value)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.execute(query.order_by(CameraRow.id).offset(offset).limit(limit)).scalars()
    return total, [to_camera(r) for r in rows]


def names(session: Session, camera_ids: Iterable[str]) -> dict[str, str]:
    """The names of the given cameras that exist, by id."""
    ids = list(camera_ids)
    if not ids:
        return {}
    rows = session.execute(select(CameraRow.id, CameraRow.name).where(CameraRow.id.in_(ids)))
    return {camera_id: name for camera_id, name in rows}
