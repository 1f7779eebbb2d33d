"""Low-emission enforcement: zones, the restricted and exempt vehicle lists (CSV), and the day's violations for
the enforcement office (CSV). Centre staff only; list imports and zone changes are audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.schemas import ZoneIn
from citylink.domain.agencies import Principal
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.emission_zones import DAYS
from citylink.domain.plates import Plate, UnreadablePlate, parse_plate
from citylink.runtime.platform import Platform
from citylink.store import audit_repo, lez_repo
from citylink.store.tables import EmissionZoneRow, ViolationRow

router = APIRouter(tags=["low-emission zones"])

ZoneId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
Day = Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="local date, YYYY-MM-DD")]
VIOLATION_COLUMNS = ("zone", "plate", "grade", "day", "time", "camera_id", "lon", "lat", "image_url", "read_id")


def _staff(principal: Principal, what: str) -> None:
    forbid(principal, principal.role.may_manage_cameras, what)


def _zone_view(row: EmissionZoneRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "area": row.area, "days": [DAYS[d] for d in row.days],
            "start": row.start, "end": row.end, "updated_at": row.updated_at.isoformat()}


def _audit(session: Session, principal: Principal, subject: str, detail: dict[str, object], now: datetime) -> None:
    audit_repo.append(session, AuditEntry(AuditAction.LEZ_CHANGED, principal.agency, subject, detail, now,
                                          correlation_id.get()))


@router.get("/lez/zones")
async def list_zones(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    _staff(principal, "read low-emission zones")
    return {"zones": [_zone_view(r) for r in await platform.db.read(lez_repo.zone_rows)]}


@router.put("/lez/zones/{zone_id}")
async def put_zone(zone_id: ZoneId, body: ZoneIn, platform: PlatformDep, principal: PrincipalDep,
                   response: Response) -> dict[str, Any]:
    _staff(principal, "change low-emission zones")
    now = platform.clock()
    days = sorted(DAYS.index(d) for d in set(body.days))

    def put(session: Session) -> tuple[EmissionZoneRow, bool]:
        row, created = lez_repo.put_zone(session, zone_id, name=body.name, area=body.area.model_dump(mode="json"),
                                         days=days, start=body.start, end=body.end, now=now)
        _audit(session, principal, f"zone:{zone_id}", {"created": created, "days": body.days, "start": body.start,
                                                        "end": body.end}, now)
        return row, created

    row, created = await platform.db.write(put)
    await platform.emission_zones_changed()
    response.status_code = 201 if created else 200
    return _zone_view(row)


@router.delete("/lez/zones/{zone_id}", status_code=204)
async def delete_zone(zone_id: ZoneId, platform: PlatformDep, principal: PrincipalDep) -> Response:
    _staff(principal, "change low-emission zones")
    now = platform.clock()

    def remove(session: Session) -> bool:
        removed = lez_repo.remove_zone(session, zone_id)
        if removed:
            _audit(session, principal, f"zone:{zone_id}", {"removed": True}, now)
        return removed

    if not await platform.db.write(remove):
        raise Problem(404, "not found", f"no zone {zone_id}", field="/zone_id")
    await platform.emission_zones_changed()
    return Response(status_code=204)


async def _csv_rows(request: Request, second: str) -> tuple[list[tuple[Plate, str]], list[dict[str, Any]]]:
    """(plate, second column) pairs from a CSV body with a header `plate,<second>`; unusable lines reported."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "invalid request", "the CSV must be UTF-8", field="/body") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"plate", second} <= {f.strip() for f in reader.fieldnames}:
        raise Problem(422, "invalid request", f"the CSV needs a header with the columns plate,{second}",
                      field="/body")
    good: dict[str, tuple[Plate, str]] = {}
    rejected: list[dict[str, Any]] = []
    for line, record in enumerate(reader, start=2):
        value = (record.get(second) or "").strip()
        try:
            plate = parse_plate(record.get("plate") or "")
        except UnreadablePlate as exc:
            rejected.append({"line": line, "field": "plate", "reason": str(exc)})
            continue
        if not value or len(value) > 128:
            rejected.append({"line": line, "field": second, "reason": f"{second} must be 1-128 characters"})
            continue
        good[plate.key] = (plate, value)  # a plate listed twice: the later line wins
    return list(good.values()), rejected


async def _import(request: Request, platform: Platform, principal: Principal, *, column: str, subject: str,
                  save: Callable[[Session, list[tuple[Plate, str]]], None]) -> dict[str, Any]:
    _staff(principal, f"import the {subject} list")
    vehicles, rejected = await _csv_rows(request, column)
    now = platform.clock()

    def write(session: Session) -> None:
        save(session, vehicles)
        _audit(session, principal, f"lez:{subject}", {"imported": len(vehicles), "rejected": len(rejected)}, now)

    await platform.db.write(write)
    await platform.emission_zones_changed()
    return {"imported": len(vehicles), "rejected": rejected[:1000], "rejected_count": len(rejected)}


@router.post("/lez/restricted")
async def import_restricted(request: Request, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """The restricted vehicles as CSV (`plate,grade`), added to or updated in the list."""
    return await _import(request, platform, principal, column="grade", subject="restricted",
                         save=lez_repo.import_restricted)


@router.post("/lez/exemptions")
async def import_exemptions(request: Request, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """The exempt vehicles as CSV (`plate,reason`: retrofitted, disabled driver, emergency vehicle …)."""
    return await _import(request, platform, principal, column="reason", subject="exempt",
                         save=lez_repo.import_exempt)


def _violation(row: ViolationRow) -> dict[str, Any]:
    return {"zone": row.zone_id, "plate": row.plate_text, "grade": row.grade, "day": row.day,
            "time": row.time.isoformat(), "camera_id": row.camera_id, "lon": row.lon, "lat": row.lat,
            "image_url": row.image_url, "read_id": row.read_id}


@router.get("/lez/violations")
async def violations(day: Day, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    _staff(principal, "read low-emission violations")
    rows = await platform.db.read(lambda s: lez_repo.violations_on(s, day))
    return {"day": day, "violations": [_violation(r) for r in rows]}


@router.get("/lez/violations.csv")
async def violations_csv(day: Day, platform: PlatformDep, principal: PrincipalDep) -> Response:
    """The day's violations with their evidence, as CSV for the enforcement office."""
    _staff(principal, "export low-emission violations")
    rows = await platform.db.read(lambda s: lez_repo.violations_on(s, day))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=VIOLATION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_violation(r) for r in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="lez-violations-{day}.csv"'})
