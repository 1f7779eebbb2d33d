"""The camera registry: CRUD and file import."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from citylink.adapters.camera_import import CameraImportError, read_cameras
from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.api.schemas import ImportReport
from citylink.domain.cameras import Camera, CameraStatus
from citylink.store import camera_repo

router = APIRouter(tags=["cameras"])

_SUFFIXES = {"text/csv": ".csv", "application/x-protobuf": ".osm.pbf", "application/vnd.openstreetmap.data+pbf":
             ".osm.pbf", "application/octet-stream": ".osm.pbf"}


@router.get("/cameras")
async def list_cameras(platform: PlatformDep, _: PrincipalDep,
                       bbox: str | None = Query(default=None, description="min_lon,min_lat,max_lon,max_lat"),
                       status: CameraStatus | None = None, offset: int = Query(default=0, ge=0, le=1_000_000_000),
                       limit: int = Query(default=500, ge=1, le=20_000)) -> dict[str, Any]:
    box = _parse_bbox(bbox) if bbox else None
    total, cameras = await platform.db.read(
        lambda s: camera_repo.page(s, bbox=box, status=status, offset=offset, limit=limit))
    return {"total": total, "offset": offset, "cameras": [c.model_dump(mode="json") for c in cameras]}


def _parse_bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in raw.split(","))
    except ValueError:
        raise Problem(422, "invalid request", "bbox must be four numbers: min_lon,min_lat,max_lon,max_lat",
                      field="/bbox") from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise Problem(422, "invalid request", "bbox is out of range or inverted", field="/bbox")
    return min_lon, min_lat, max_lon, max_lat


@router.get("/cameras/{camera_id}")
async def get_camera(camera_id: str, platform: PlatformDep, _: PrincipalDep) -> dict[str, Any]:
    camera = await platform.db.read(lambda s: camera_repo.get(s, camera_id))
    if camera is None:
        raise Problem(404, "not found", f"no camera {camera_id}", field="/camera_id")
    return camera.model_dump(mode="json")


@router.post("/cameras", status_code=201)
async def create_camera(body: Camera, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    forbid(principal, principal.role.may_manage_cameras, "manage cameras")
    exists = await platform.db.read(lambda s: camera_repo.get(s, body.id))
    if exists is not None:
        raise Problem(409, "conflict", f"camera {body.id} exists; use PUT to change it", field="/id")
    await platform.save_cameras([body], actor=principal.agency, source=f"api:{body.id}")
    return body.model_dump(mode="json")


@router.put("/cameras/{camera_id}")
async def put_camera(camera_id: str, body: Camera, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    forbid(principal, principal.role.may_manage_cameras, "manage cameras")
    if body.id != camera_id:
        raise Problem(422, "invalid request", f"body id {body.id} does not match the path {camera_id}", field="/id")
    await platform.save_cameras([body], actor=principal.agency, source=f"api:{body.id}")
    return body.model_dump(mode="json")


@router.delete("/cameras/{camera_id}", status_code=204)
async def delete_camera(camera_id: str, platform: PlatformDep, principal: PrincipalDep) -> Response:
    forbid(principal, principal.role.may_manage_cameras, "manage cameras")
    if not await platform.delete_camera(camera_id, actor=principal.agency):
        raise Problem(404, "not found", f"no camera {camera_id}", field="/camera_id")
    return Response(status_code=204)


@router.post("/cameras/import", response_model=ImportReport)
async def import_cameras(request: Request, platform: PlatformDep, principal: PrincipalDep,
                         filename: str = Query(default="", description="original file name; its suffix picks the "
                                               "format (.csv or .osm.pbf) when the content type does not")
                         ) -> ImportReport:
    """Import a camera file sent as the raw request body (text/csv or an OSM PBF). Re-import is an upsert."""
    forbid(principal, principal.role.may_manage_cameras, "import cameras")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    suffix = ".csv" if filename.endswith(".csv") else ".osm.pbf" if filename.endswith(".pbf") else \
        _SUFFIXES.get(content_type)
    if suffix is None:
        raise Problem(415, "unsupported media type",
                      "send text/csv or an OSM PBF (application/x-protobuf), or name the file with filename=",
                      field="/content-type")
    body = await request.body()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(body)
        try:
            result = await platform.run_blocking(read_cameras, path)
        except CameraImportError as exc:
            raise Problem(422, "unreadable camera file", str(exc), field="/body") from None
    counts = await platform.save_cameras(result.cameras, actor=principal.agency, source=filename or result.source)
    return ImportReport(source=filename or result.source, imported=counts.created, updated=counts.updated,
                        unchanged=counts.unchanged,
                        rejected=[{"row": r.row, "reason": r.reason} for r in result.rejected])
