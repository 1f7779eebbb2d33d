"""Incidents, their events, grants and notifications in the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import String, bindparam, cast, func, insert, or_, select, update
from sqlalchemy.orm import Session

from citylink.domain.events import Event, Status
from citylink.domain.grants import Grant
from citylink.domain.selection import SelectedCamera
from citylink.store.database import table_of
from citylink.store.direct import Direct, DirectQuery
from citylink.store.tables import EventRow, GrantRow, IncidentRow, NotificationRow, ProcessedRow

_INCIDENTS = table_of(IncidentRow)
_EVENTS = table_of(EventRow)
_GRANTS = table_of(GrantRow)
_NOTIFICATIONS = table_of(NotificationRow)
_PROCESSED = table_of(ProcessedRow)
# The hot path's writes and its reads of events and incidents go straight to the driver (store/direct.py).
_INSERT_INCIDENT = Direct(insert(_INCIDENTS))
_INSERT_EVENT = Direct(insert(_EVENTS))
_INSERT_GRANT = Direct(insert(_GRANTS))
_INSERT_NOTIFICATION = Direct(insert(_NOTIFICATIONS))
_INSERT_PROCESSED = Direct(insert(_PROCESSED))
_MARK_DISPATCHED = Direct(update(_EVENTS).where(_EVENTS.c.id == bindparam("_id")))
# Other hot-path reads are built once, with bound parameters: building a statement per call cost more than running
# it. They go to the transaction's connection: Session.execute adds ~14 µs a call of ORM dispatch they do not use.
_EXISTING_EVENTS = DirectQuery(select(_EVENTS.c.id).where(_EVENTS.c.id.in_(bindparam("ids", expanding=True))),
                               expanding="ids")
_INCIDENTS_BY_ID = DirectQuery(select(_INCIDENTS).where(_INCIDENTS.c.id.in_(bindparam("ids", expanding=True))),
                               expanding="ids")
_INCIDENT_KEYS = tuple(c.key for c in _INCIDENTS.columns)
_LOCK_INCIDENTS = (select(_INCIDENTS.c.id).where(_INCIDENTS.c.id.in_(bindparam("ids", expanding=True)))
                   .order_by(_INCIDENTS.c.id).with_for_update())
_GRANTS_OF_INCIDENT = select(_GRANTS).where(_GRANTS.c.incident_id == bindparam("incident_id")).order_by(
    _GRANTS.c.issued_at)
_LIVE_GRANTS = (select(_GRANTS.c.id, _GRANTS.c.incident_id, _GRANTS.c.agency)
                .where(_GRANTS.c.incident_id.in_(bindparam("ids", expanding=True)), _GRANTS.c.revoked_at.is_(None))
                .order_by(_GRANTS.c.issued_at))
_PROCESSED_MARK = select(_PROCESSED.c.event_id).where(_PROCESSED.c.event_id == bindparam("event_id"),
                                                      _PROCESSED.c.service == bindparam("service"))
_PROCESSED_BY = select(_PROCESSED.c.service).where(_PROCESSED.c.event_id == bindparam("event_id"))
# Updates by id: the SET clause is the other keys of each parameter set.
_UPDATE_INCIDENT = Direct(update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("_id")))
_UPDATE_GRANT = Direct(update(_GRANTS).where(_GRANTS.c.id == bindparam("_id")))
# What events change in an incident (apply_update), and what services change in it. save_updated writes only
# the one set, so what another process committed meanwhile in the other set is never overwritten with an older
# copy (intake and the services may run in different processes).
EVENT_COLUMNS = ("status", "grade", "lon", "lat", "area", "radius_m", "place", "content", "updated_at",
                 "ended_at")
SERVICE_COLUMNS = ("cameras", "selection_note", "agencies", "media", "updated_at")
# What changes in a grant when it is renewed or follows new cameras.
_GRANT_COLUMNS = ("cameras", "purpose", "version", "issued_at", "expires_at", "revoked_at", "revoke_reason")


class LiveGrant(NamedTuple):
    id: str
    incident_id: str
    agency: str


def existing_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    return {row[0] for row in _EXISTING_EVENTS.rows(session, {"ids": event_ids})}


def lock_incidents(session: Session, incident_ids: list[str]) -> None:
    """On PostgreSQL, hold these incidents' rows until the transaction ends, taken in id order.

    Intake (ending an incident, revoking its grants) and workers (granting video on it) run in different
    processes: without the lock a worker could grant on an incident that intake is ending, after intake read
    its grants. Both sides lock their batch's incidents first, in the same order, so they cannot deadlock."""
    if incident_ids and session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_LOCK_INCIDENTS, {"ids": sorted(set(incident_ids))})


def load_incidents(session: Session, incident_ids: list[str]) -> dict[str, IncidentRow]:
    """The incidents as rows outside the session: changes to them are written with save_updated."""
    rows = _INCIDENTS_BY_ID.rows(session, {"ids": list(set(incident_ids))})
    return {row[0]: IncidentRow(**dict(zip(_INCIDENT_KEYS, row, strict=True))) for row in rows}


def new_incident(event: Event, *, now: datetime, agencies: list[str]) -> IncidentRow:
    """The incident an event opens, outside the session: written with insert_incidents."""
    return IncidentRow(
        id=event.incident_id, key=event.incident_key, code=event.code, name=event.name, grade=event.grade.value,
        status=event.status.value, sender_city=event.sender.city, sender_system=event.sender.system,
        occurrence=event.occurrence, lon=event.location.lon, lat=event.location.lat,
        area=event.area.model_dump(mode="json") if event.area else None, radius_m=event.radius_m,
        place=event.place, content=event.content, agencies=sorted(set(agencies)), cameras=[], selection_note="",
        media=[], acknowledged_by=None, acknowledged_at=None, opened_at=now, updated_at=now, ended_at=None,
    )


def insert_incidents(session: Session, rows: Sequence[IncidentRow]) -> None:
    _INSERT_INCIDENT.executemany(session, [{c.key: getattr(row, c.key) for c in _INCIDENTS.columns} for row in rows])


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


def save_updated(session: Session, rows: Sequence[IncidentRow], columns: tuple[str, ...]) -> None:
    """Write columns (EVENT_COLUMNS or SERVICE_COLUMNS) of incidents loaded with load_incidents."""
    _UPDATE_INCIDENT.executemany(session, [{"_id": row.id, **{c: getattr(row, c) for c in columns}} for row in rows])


def event_values(event: Event, *, incident_id: str, now: datetime, received_by: str, effect: str,
                 dispatched: bool) -> dict[str, Any]:
    """One stored event, for insert_events."""
    return {"id": event.event_id, "incident_id": incident_id, "code": event.code, "status": event.status.value,
            "time": event.time, "received_at": now, "received_by": received_by,
            "payload": event.model_dump(mode="json"), "effect": effect, "dispatched": dispatched}


def insert_events(session: Session, values: list[dict[str, Any]]) -> None:
    """After insert_incidents: each event refers to its incident."""
    _INSERT_EVENT.executemany(session, values)


def live_grants(session: Session, incident_ids: list[str]) -> dict[str, list[LiveGrant]]:
    """The unrevoked grants of each incident, oldest first."""
    if not incident_ids:
        return {}
    grants: dict[str, list[LiveGrant]] = {}
    for row in session.connection().execute(_LIVE_GRANTS, {"ids": list(set(incident_ids))}):
        grants.setdefault(row.incident_id, []).append(LiveGrant(row.id, row.incident_id, row.agency))
    return grants


def load_grants(session: Session, incident_id: str) -> list[GrantRow]:
    """The incident's grants as rows outside the session: written with insert_grants and save_grants."""
    rows = session.connection().execute(_GRANTS_OF_INCIDENT, {"incident_id": incident_id})
    return [GrantRow(**row._mapping) for row in rows]


def insert_grants(session: Session, rows: Sequence[GrantRow]) -> None:
    _INSERT_GRANT.executemany(session, [{c.key: getattr(row, c.key) for c in _GRANTS.columns} for row in rows])


def save_grants(session: Session, rows: Sequence[GrantRow]) -> None:
    """Write renewed or re-scoped grants loaded with load_grants."""
    _UPDATE_GRANT.executemany(session, [{"_id": row.id, **{c: getattr(row, c) for c in _GRANT_COLUMNS}}
                                        for row in rows])


def revoke_grants(session: Session, revoked: list[tuple[str, str]], *, now: datetime) -> None:
    """Revoke each (grant id, reason)."""
    _UPDATE_GRANT.executemany(session, [{"_id": grant_id, "revoked_at": now, "revoke_reason": reason}
                                        for grant_id, reason in revoked])


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


def insert_notifications(session: Session, values: list[dict[str, Any]]) -> None:
    _INSERT_NOTIFICATION.executemany(session, values)


def is_processed(session: Session, event_id: str, service: str) -> bool:
    return session.connection().execute(_PROCESSED_MARK, {"event_id": event_id, "service": service}).first() is not None


def processed_by(session: Session, event_id: str) -> set[str]:
    """The services that have handled the event (committed)."""
    return set(session.connection().execute(_PROCESSED_BY, {"event_id": event_id}).scalars())


def mark_processed(session: Session, marks: list[tuple[str, str, datetime]]) -> None:
    """Record each (event id, service, when) as handled."""
    _INSERT_PROCESSED.executemany(session, [{"event_id": e, "service": s, "at": at} for e, s, at in marks])


def mark_dispatched(session: Session, event_ids: list[str], *, dispatched: bool = True) -> None:
    """The events leave the redelivery set: every service for their code has handled them (or, with
    dispatched=False, go back into it)."""
    _MARK_DISPATCHED.executemany(session, [{"_id": event_id, "dispatched": dispatched} for event_id in event_ids])


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
