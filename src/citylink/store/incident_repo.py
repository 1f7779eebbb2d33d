"""Incidents, their events, grants and notifications in the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from citylink.domain.events import Event, Status
from citylink.domain.grants import Grant
from citylink.domain.selection import SelectedCamera
from citylink.store.tables import EventRow, GrantRow, IncidentRow, NotificationRow


def existing_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    return set(session.execute(select(EventRow.id).where(EventRow.id.in_(event_ids))).scalars())


def incidents_by_id(session: Session, incident_ids: list[str]) -> dict[str, IncidentRow]:
    rows = session.execute(select(IncidentRow).where(IncidentRow.id.in_(set(incident_ids)))).scalars()
    return {row.id: row for row in rows}


def open_incident(session: Session, event: Event, *, now: datetime, agencies: list[str]) -> IncidentRow:
    row = IncidentRow(
        id=event.incident_id, key=event.incident_key, code=event.code, name=event.name, grade=event.grade.value,
        status=event.status.value, sender_city=event.sender.city, sender_system=event.sender.system,
        occurrence=event.occurrence, lon=event.location.lon, lat=event.location.lat,
        area=event.area.model_dump(mode="json") if event.area else None, radius_m=event.radius_m,
        place=event.place, content=event.content, agencies=sorted(set(agencies)), cameras=[], selection_note="",
        media=[], opened_at=now, updated_at=now, ended_at=None,
    )
    session.add(row)
    return row


def apply_update(row: IncidentRow, event: Event, *, now: datetime) -> bool:
    """Fold an accepted event into the incident; True when it moved the incident."""
    moved = (row.lon, row.lat) != (event.location.lon, event.location.lat) or (
        event.area is not None and row.area != event.area.model_dump(mode="json"))
    row.status = event.status.value
    row.grade = event.grade.value
    row.lon, row.lat = event.location.lon, event.location.lat
    if event.area is not None:
        row.area = event.area.model_dump(mode="json")
    if event.radius_m is not None:
        row.radius_m = event.radius_m
    row.place = event.place or row.place
    row.content = event.content or row.content
    row.updated_at = now
    if event.status.ends_incident:
        row.ended_at = now
    return moved


def add_event(session: Session, event: Event, incident: IncidentRow, *, now: datetime, received_by: str, effect: str,
              dispatched: bool) -> None:
    session.add(EventRow(id=event.event_id, incident=incident, code=event.code,
                         status=event.status.value, time=event.time, received_at=now, received_by=received_by,
                         payload=event.model_dump(mode="json"), effect=effect, dispatched=dispatched))


def involve(row: IncidentRow, agency: str) -> None:
    if agency not in row.agencies:
        row.agencies = sorted({*row.agencies, agency})


def set_cameras(row: IncidentRow, cameras: list[SelectedCamera], note: str) -> None:
    row.cameras = [c.model_dump(mode="json") for c in cameras]
    row.selection_note = note


def camera_ids(row: IncidentRow) -> tuple[str, ...]:
    return tuple(str(c["id"]) for c in row.cameras)


def to_grant(row: GrantRow) -> Grant:
    return Grant(id=row.id, incident_id=row.incident_id, agency=row.agency, cameras=tuple(row.cameras),
                 purpose=row.purpose, issued_at=row.issued_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
                 revoke_reason=row.revoke_reason)


def grants_for(session: Session, incident_id: str) -> list[GrantRow]:
    return list(session.execute(select(GrantRow).where(GrantRow.incident_id == incident_id)
                                .order_by(GrantRow.issued_at)).scalars())


def live_grants(session: Session, incident_id: str) -> list[GrantRow]:
    return [g for g in grants_for(session, incident_id) if g.revoked_at is None]


def events_for(session: Session, incident_id: str) -> list[EventRow]:
    return list(session.execute(select(EventRow).where(EventRow.incident_id == incident_id)
                                .order_by(EventRow.seq)).scalars())


def notifications_for(session: Session, incident_id: str) -> list[NotificationRow]:
    return list(session.execute(select(NotificationRow).where(NotificationRow.incident_id == incident_id)
                                .order_by(NotificationRow.created_at)).scalars())


def list_incidents(session: Session, *, agency: str | None, status: str | None, code: str | None, open_only: bool,
                   offset: int, limit: int) -> tuple[int, list[IncidentRow]]:
    """(total matching, one page), newest activity first."""
    query = select(IncidentRow)
    if status:
        query = query.where(IncidentRow.status == status)
    if code:
        query = query.where(IncidentRow.code == code)
    if open_only:
        query = query.where(IncidentRow.ended_at.is_(None))
    if agency is not None:
        # The agencies column is a JSON list of slugs (no quotes inside), so its text form can be matched
        # portably: the agency itself, or any of its sub-units.
        text = cast(IncidentRow.agencies, String)
        query = query.where(or_(text.contains(f'"{agency}"'), text.contains(f'"{agency}/')))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = session.execute(query.order_by(IncidentRow.updated_at.desc()).offset(offset).limit(limit)).scalars()
    return total, list(page)


def undispatched_events(session: Session) -> list[EventRow]:
    return list(session.execute(select(EventRow).where(EventRow.dispatched.is_(False))
                                .order_by(EventRow.seq)).scalars())


def current_status(row: IncidentRow | None) -> Status | None:
    return Status(row.status) if row is not None else None


def list_grants(session: Session, *, agency: str | None, incident_id: str | None) -> list[GrantRow]:
    query = select(GrantRow).order_by(GrantRow.issued_at.desc())
    if incident_id:
        query = query.where(GrantRow.incident_id == incident_id)
    if agency is not None:
        query = query.where((GrantRow.agency == agency) | GrantRow.agency.startswith(agency + "/"))
    return list(session.execute(query).scalars())
