"""Mobile units: registration, positions and states."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.units import Unit, UnitKind, UnitReport, UnitState
from citylink.store import audit_repo
from citylink.store.tables import UnitRow


def to_unit(row: UnitRow) -> Unit:
    return Unit(id=row.id, kind=UnitKind(row.kind), name=row.name, agency=row.agency, state=UnitState(row.state),
                lon=row.lon, lat=row.lat, position_at=row.position_at, incident_id=row.incident_id)


def all_units(session: Session, *, agency: str | None = None) -> list[Unit]:
    query = select(UnitRow).order_by(UnitRow.id)
    if agency is not None:
        query = query.where(UnitRow.agency == agency)
    return [to_unit(row) for row in session.execute(query).scalars()]


def get(session: Session, unit_id: str) -> UnitRow | None:
    return session.get(UnitRow, unit_id)


def register(session: Session, unit: Unit, *, now: datetime) -> tuple[UnitRow, bool]:
    """Create the unit, or replace what is registered under its id; (row, created)."""
    row = session.get(UnitRow, unit.id)
    created = row is None
    if row is None:
        row = UnitRow(id=unit.id)
        session.add(row)
    row.kind, row.name, row.agency, row.state = unit.kind.value, unit.name, unit.agency, unit.state.value
    row.lon, row.lat, row.position_at, row.incident_id = unit.lon, unit.lat, unit.position_at, unit.incident_id
    row.updated_at = now
    return row, created


def move(row: UnitRow, lon: float, lat: float, at: datetime, *, now: datetime) -> bool:
    """Take a position unless a newer one is already known (reports can arrive out of order); True if taken."""
    if row.position_at is not None and at <= row.position_at:
        return False
    row.lon, row.lat, row.position_at, row.updated_at = lon, lat, at, now
    return True


def apply_reports(session: Session, reports: Sequence[UnitReport], *, actor: str, now: datetime) -> set[str]:
    """Positions and states from units' trackers, oldest first; state changes are audited. The ids of units
    not registered are returned (their reports are not taken)."""
    wanted = {report.unit_id for report in reports}
    if not wanted:
        return set()
    rows = {row.id: row for row in session.execute(select(UnitRow).where(UnitRow.id.in_(wanted))).scalars()}
    for report in sorted(reports, key=lambda r: r.time):
        row = rows.get(report.unit_id)
        if row is None:
            continue
        if report.lon is not None and report.lat is not None:
            move(row, report.lon, report.lat, report.time, now=now)
        if report.state is not None and report.state.value != row.state:
            row.state, row.updated_at = report.state.value, now
            if report.state in (UnitState.AVAILABLE, UnitState.OFF_DUTY):
                row.incident_id = None
            audit_repo.append(session, AuditEntry(AuditAction.UNIT_CHANGED, actor, f"unit:{row.id}",
                                                  {"state": row.state, "incident": row.incident_id}, now))
    return wanted - set(rows)


def remove(session: Session, row: UnitRow) -> None:
    session.delete(row)
