"""Licence-plate reads and the police watch list.

Reads come from LPR systems (any agency key that may act on incidents; MQTT device type ``lpr`` too). The
watch list, and every read, is for the watch-list agency (settings.lpr.watch_agency, the police) alone: other
callers get 403, and every plate search is audited. Plates never appear in the log.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.schemas import PlateReadsIn, WatchEntryIn
from citylink.domain.agencies import Principal
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.plates import Plate, UnreadablePlate, parse_plate
from citylink.domain.watchlist import PlateRead, WatchEntry, read_id
from citylink.runtime.platform import Platform
from citylink.store import audit_repo, camera_repo, lpr_repo
from citylink.store.tables import PlateReadRow, WatchRow

router = APIRouter(tags=["lpr"])

PlateText = Annotated[str, Path(min_length=1, max_length=32, description="e.g. 12가3456, 서울12가3456, ABC-123")]


def _watch_agency_only(platform: Platform, principal: Principal, what: str) -> None:
    owner = platform.settings.lpr.watch_agency
    forbid(principal, principal.agency == owner and principal.role.may_act_on_incidents,
           f"{what} (the watch list and plate reads are for {owner} only)")


def _plate(raw: str, field: str) -> Plate:
    try:
        return parse_plate(raw)
    except UnreadablePlate as exc:
        raise Problem(422, "invalid request", str(exc), field=field) from None


def _entry_view(row: WatchRow) -> dict[str, Any]:
    return {"id": row.id, "plate": row.plate_text, "category": row.category, "reason": row.reason,
            "expires_at": row.expires_at.isoformat(), "added_by": row.added_by, "added_at": row.added_at.isoformat()}


def _read_view(row: PlateReadRow) -> dict[str, Any]:
    return {"id": row.id, "camera_id": row.camera_id, "plate": row.plate_text, "time": row.time.isoformat(),
            "location": {"lon": row.lon, "lat": row.lat}, "confidence": row.confidence,
            "low_confidence": row.low_confidence, "heading_deg": row.heading_deg, "image_url": row.image_url,
            "hit": row.hit_entry_id is not None}


@router.get("/lpr/watch-list")
async def list_watch(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    _watch_agency_only(platform, principal, "read the watch list")
    return {"entries": [_entry_view(r) for r in await platform.db.read(lpr_repo.entry_rows)]}


@router.put("/lpr/watch-list/{plate}")
async def put_watch(plate: PlateText, body: WatchEntryIn, platform: PlatformDep, principal: PrincipalDep,
                    response: Response) -> dict[str, Any]:
    _watch_agency_only(platform, principal, "change the watch list")
    parsed = _plate(plate, "/plate")
    now = platform.clock()
    if body.expires_at <= now:
        raise Problem(422, "invalid request", "expires_at is in the past", field="/expires_at")
    entry = WatchEntry(str(uuid.uuid4()), parsed, body.category, body.reason, body.expires_at, principal.agency, now)

    def put(session: Session) -> tuple[WatchRow, bool]:
        row, created = lpr_repo.put_entry(session, entry)
        # The audit names the entry, not the plate: the trail is read by auditors, not the police.
        audit_repo.append(session, AuditEntry(AuditAction.WATCHLIST_CHANGED, principal.agency, f"watch:{row.id}",
                                              {"category": row.category, "expires_at": row.expires_at.isoformat(),
                                               "created": created}, now, correlation_id.get()))
        return row, created

    row, created = await platform.db.write(put)
    await platform.watch_list_changed()
    response.status_code = 201 if created else 200
    return _entry_view(row)


@router.delete("/lpr/watch-list/{plate}", status_code=204)
async def delete_watch(plate: PlateText, platform: PlatformDep, principal: PrincipalDep) -> Response:
    _watch_agency_only(platform, principal, "change the watch list")
    parsed = _plate(plate, "/plate")
    now = platform.clock()

    def remove(session: Session) -> bool:
        row = lpr_repo.entry_by_plate(session, parsed.text)
        if row is None:
            return False
        lpr_repo.remove_entry(session, row)
        audit_repo.append(session, AuditEntry(AuditAction.WATCHLIST_CHANGED, principal.agency, f"watch:{row.id}",
                                              {"removed": True}, now, correlation_id.get()))
        return True

    if not await platform.db.write(remove):
        raise Problem(404, "not found", "no watch-list entry for that plate", field="/plate")
    await platform.watch_list_changed()
    return Response(status_code=204)


@router.post("/lpr/reads")
async def post_reads(body: PlateReadsIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """A batch of reads. Reads that cannot be used (an unreadable plate, a camera neither registered nor
    placed) are listed under ``rejected`` with the field at fault; the others are stored and matched, a read
    sent again (same camera, plate and time) once. ``hits``: the wanted-vehicle incidents new hits went to."""
    forbid(principal, principal.role.may_act_on_incidents, "send plate reads")
    unplaced = {r.camera_id for r in body.reads if r.location is None}
    placed = await platform.db.read(lambda s: {cid: cam for cid in unplaced
                                               if (cam := camera_repo.get(s, cid)) is not None})
    reads: list[PlateRead] = []
    rejected: list[dict[str, Any]] = []
    for i, item in enumerate(body.reads):
        try:
            plate = parse_plate(item.plate)
        except UnreadablePlate as exc:
            rejected.append({"index": i, "field": f"/reads/{i}/plate", "reason": str(exc)})
            continue
        if item.location is not None:
            lon, lat = item.location.lon, item.location.lat
        elif item.camera_id in placed:
            lon, lat = placed[item.camera_id].lon, placed[item.camera_id].lat
        else:
            rejected.append({"index": i, "field": f"/reads/{i}/camera_id",
                             "reason": "camera not in the registry and no location given"})
            continue
        reads.append(PlateRead(read_id(item.camera_id, plate, item.time), item.camera_id, plate, item.time, lon, lat,
                               item.confidence, item.heading_deg, item.image_url))
    taken = await platform.plate_reads.take(reads, received_by=principal.agency)
    return {"accepted": taken.reads, "hits": taken.hits, "rejected": rejected}


@router.get("/lpr/reads")
async def search_reads(platform: PlatformDep, principal: PrincipalDep,
                       plate: Annotated[str, Query(min_length=1, max_length=32)],
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """The reads of a plate, newest first (reads that hit nothing only within their retention). Audited."""
    _watch_agency_only(platform, principal, "search plate reads")
    parsed = _plate(plate, "/query/plate")
    now = platform.clock()

    def search(session: Session) -> list[PlateReadRow]:
        rows = [r for r in lpr_repo.reads_of(session, parsed.key, limit=limit)
                if parse_plate(r.plate_text).same_vehicle(parsed)]
        audit_repo.append(session, AuditEntry(AuditAction.PLATE_SEARCH, principal.agency, "plate-reads",
                                              {"results": len(rows)}, now, correlation_id.get()))
        return rows

    return {"reads": [_read_view(r) for r in await platform.db.write(search)]}
