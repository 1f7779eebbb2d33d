"""Low-emission zones, the restricted and exempt vehicle lists, and the violations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.domain.emission_zones import Schedule, Zone
from citylink.domain.plates import Plate
from citylink.domain.watchlist import PlateRead
from citylink.store.database import conflict_insert, table_of
from citylink.store.tables import EmissionZoneRow, ExemptVehicleRow, RestrictedVehicleRow, ViolationRow

_RESTRICTED = table_of(RestrictedVehicleRow)
_EXEMPT = table_of(ExemptVehicleRow)
_VIOLATIONS = table_of(ViolationRow)
IMPORT_CHUNK = 10_000


def to_zone(row: EmissionZoneRow, timezone: str) -> Zone:
    ring = tuple((float(x), float(y)) for x, y in row.area["coordinates"][0])
    return Zone(row.id, row.name, ring, Schedule(frozenset(int(d) for d in row.days), time.fromisoformat(row.start),
                                                 time.fromisoformat(row.end), timezone))


def zone_rows(session: Session) -> list[EmissionZoneRow]:
    return list(session.execute(select(EmissionZoneRow).order_by(EmissionZoneRow.id)).scalars())


def put_zone(session: Session, zone_id: str, *, name: str, area: dict[str, Any], days: list[int], start: str,
             end: str, now: datetime) -> tuple[EmissionZoneRow, bool]:
    row = session.get(EmissionZoneRow, zone_id)
    created = row is None
    if row is None:
        row = EmissionZoneRow(id=zone_id)
        session.add(row)
    row.name, row.area, row.days, row.start, row.end, row.updated_at = name, area, days, start, end, now
    return row, created


def remove_zone(session: Session, zone_id: str) -> bool:
    row = session.get(EmissionZoneRow, zone_id)
    if row is None:
        return False
    session.delete(row)
    return True


def restricted_keys(session: Session) -> Iterator[str]:
    yield from session.execute(select(RestrictedVehicleRow.plate_key).execution_options(yield_per=50_000)).scalars()


def exempt_keys(session: Session) -> set[str]:
    return set(session.execute(select(ExemptVehicleRow.plate_key)).scalars())


def import_restricted(session: Session, vehicles: Sequence[tuple[Plate, str]]) -> None:
    """Add or update (by plate) in chunks; a list of millions goes in with a few hundred statements."""
    _upsert(session, _RESTRICTED, "grade", vehicles)


def import_exempt(session: Session, vehicles: Sequence[tuple[Plate, str]]) -> None:
    _upsert(session, _EXEMPT, "reason", vehicles)


def _upsert(session: Session, table: Any, column: str, vehicles: Sequence[tuple[Plate, str]]) -> None:
    insert = conflict_insert(session)
    for i in range(0, len(vehicles), IMPORT_CHUNK):
        rows = [{"plate_key": p.key, "plate_text": p.text, column: v} for p, v in vehicles[i:i + IMPORT_CHUNK]]
        statement = insert(table)
        session.connection().execute(statement.on_conflict_do_update(
            index_elements=["plate_key"], set_={"plate_text": statement.excluded.plate_text,
                                                column: statement.excluded[column]}), rows)


def record_violations(session: Session, candidates: Sequence[tuple[PlateRead, Zone, str]]) -> None:
    """Violations for (read, zone, local day) of vehicles confirmed restricted; a vehicle's second read in the
    same zone on the same day adds nothing."""
    if not candidates:
        return
    grades = {key: grade for key, grade in session.execute(
        select(RestrictedVehicleRow.plate_key, RestrictedVehicleRow.grade).where(
            RestrictedVehicleRow.plate_key.in_({read.plate.key for read, _, _ in candidates})))}
    rows = [{"id": str(uuid.uuid4()), "zone_id": zone.id, "plate_key": read.plate.key, "plate_text": read.plate.text,
             "grade": grades[read.plate.key], "day": day, "time": read.time, "camera_id": read.camera_id,
             "lon": read.lon, "lat": read.lat, "image_url": read.image_url, "read_id": read.id}
            for read, zone, day in candidates if read.plate.key in grades]
    if rows:
        session.connection().execute(
            conflict_insert(session)(_VIOLATIONS).on_conflict_do_nothing(
                index_elements=["zone_id", "plate_key", "day"]),
            rows)


def violations_on(session: Session, day: str) -> list[ViolationRow]:
    query = select(ViolationRow).where(ViolationRow.day == day).order_by(ViolationRow.time)
    return list(session.execute(query).scalars())
