"""Carries out what services ask for, once per (event, service), in one transaction with its audit trail."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.auth.grant_tokens import GrantSigner
from citylink.bus.port import EventMessage
from citylink.domain.actions import (
    Acknowledge,
    Action,
    AttachMedia,
    EditCameras,
    ForwardEvent,
    GrantVideo,
    Notify,
    RefuseVideo,
    SelectCameras,
    SelectInArea,
)
from citylink.domain.agencies import Agency
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.events import Area
from citylink.domain.grants import grant_expiry
from citylink.domain.selection import Selection
from citylink.geo.area import area_polygon
from citylink.geo.camera_index import CameraIndex
from citylink.geo.selection import (
    CandidateSource,
    circle_polygon,
    describe_camera,
    select_cameras,
    select_in_area,
)
from citylink.runtime.clock import Clock
from citylink.runtime.incident_plans import PlannedRoutes
from citylink.runtime.views import incident_summary
from citylink.services.base import IncidentView, Service
from citylink.services.registry import Registry
from citylink.settings import Settings
from citylink.store import agency_repo, audit_repo, camera_repo, direct, incident_repo, linkage_repo, plan_repo
from citylink.store.camera_spatial import PostgisCameras
from citylink.store.tables import GrantRow, IncidentRow

log = logging.getLogger(__name__)



class UnknownCamera(LookupError):
    def __init__(self, camera_id: str) -> None:
        super().__init__(f"no camera {camera_id}")
        self.camera_id = camera_id


class UnknownAgency(LookupError):
    def __init__(self, agency: str) -> None:
        super().__init__(f"no agency {agency}")
        self.agency = agency


_WRITES = "citylink.service_writes"

StreamOut = tuple[str, dict[str, Any], frozenset[str]]


@dataclass(slots=True)
class Applied:
    stream: list[StreamOut] = field(default_factory=list)
    notifications: int = 0


@dataclass(slots=True)
class _Writes:
    """What one transaction's actions write, kept in it and sent just before it commits: one Core executemany
    per kind of row for the whole batch of events (the ORM's unit of work cost about eight times as much).

    Nothing in the transaction reads these rows back from the database: the incidents and grants it works on
    are kept here, loaded once each."""

    processed: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (event id, service) -> when
    dispatched: list[str] = field(default_factory=list)
    incidents: dict[str, IncidentRow] = field(default_factory=dict)  # loaded by services, outside the session
    updated: dict[str, IncidentRow] = field(default_factory=dict)  # of those, the ones an action ran on
    grants: dict[str, dict[str, GrantRow]] = field(default_factory=dict)  # incident id -> agency -> grant
    new_grants: dict[str, GrantRow] = field(default_factory=dict)
    changed_grants: dict[str, GrantRow] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)

    @staticmethod
    def of(session: Session) -> _Writes:
        writes: _Writes | None = session.info.get(_WRITES)
        if writes is None:
            writes = session.info[_WRITES] = _Writes()
            if not sa_event.contains(session, "before_commit", _save_writes):
                sa_event.listen(session, "before_commit", _save_writes)
        return writes

    def save(self, session: Session, *, audit: bool = True) -> None:
        incident_repo.save_updated(session, list(self.updated.values()), incident_repo.SERVICE_COLUMNS)
        incident_repo.insert_grants(session, list(self.new_grants.values()))
        incident_repo.save_grants(session, [g for g in self.changed_grants.values() if g.id not in self.new_grants])
        incident_repo.insert_notifications(session, self.notifications)
        incident_repo.mark_processed(session, [(e, s, at) for (e, s), at in self.processed.items()])
        incident_repo.mark_dispatched(session, self.dispatched)
        if audit:
            audit_repo.append_many(session, self.audit)


def _save_writes(session: Session) -> None:
    writes: _Writes | None = session.info.pop(_WRITES, None)
    if writes is not None:
        writes.save(session)


@dataclass(slots=True)
class _Ctx:
    session: Session
    row: IncidentRow
    actor: str
    correlation_id: str
    now: datetime
    out: Applied
    writes: _Writes


class Executor:
    def __init__(self, *, settings: Settings, index: CameraIndex, signer: GrantSigner, registry: Registry,
                 clock: Clock) -> None:
        self._settings = settings
        self._index = index
        self._signer = signer
        self._registry = registry
        self._clock = clock
        self._known_agencies: set[str] = set()

    @staticmethod
    def view(message: EventMessage) -> IncidentView:
        event = message.event
        return IncidentView(id=event.incident_id, key=event.incident_key, opened_now=message.effect == "opened",
                            ended_now=message.effect == "ended", location_changed=message.effect == "moved")

    def apply(self, session: Session, message: EventMessage, service: Service,
              actions: Sequence[Action | PlannedRoutes]) -> Applied:
        """Run inside the services' transaction. A second delivery of the same event does nothing.

        What it writes reaches the database when the transaction commits (see _Writes)."""
        writes = _Writes.of(session)
        key = (message.event_id, service.name)
        if key in writes.processed or incident_repo.is_processed(session, *key):
            return Applied()
        return self._apply(session, writes, message, service, actions, mark_dispatched=True)

    def apply_fresh(self, session: Session, work: Sequence[tuple[EventMessage, Service, Sequence[Action]]], *,
                    incidents: Mapping[str, IncidentRow], opened: Collection[str],
                    audit: list[AuditEntry]) -> list[Applied]:
        """Services' actions on events that this same transaction has just stored (intake's): no service can
        have handled them yet, and their incidents are the intake's own rows, so nothing is read back.

        Written under a savepoint before returning: when an action fails, nothing of any of them stays and the
        caller still commits the events (which then go to the services over the bus). Whether an event is
        dispatched is the caller's to say (it knows which services act here: InlineServices.plan). Their audit
        entries are added to audit, which the caller appends to the log with its own in one statement; none is
        written inside the savepoint, as the chain's head carried in the session (audit_repo.load_head) would
        outlive a rollback."""
        writes = _Writes(incidents=dict(incidents), grants={incident_id: {} for incident_id in opened})
        with direct.savepoint(session, "services"):
            applied = [self._apply(session, writes, message, service, actions, mark_dispatched=False)
                       for message, service, actions in work]
            writes.save(session, audit=False)
        audit += writes.audit
        return applied

    def _apply(self, session: Session, writes: _Writes, message: EventMessage, service: Service,
               actions: Sequence[Action | PlannedRoutes], *, mark_dispatched: bool) -> Applied:
        out = Applied()
        row = self._incident(session, writes, message)
        ctx = _Ctx(session, row, f"service:{service.name}", message.correlation_id, self._clock(), out, writes)
        for action in actions:
            self._run(ctx, action)
        if actions:
            writes.updated[row.id] = row
        writes.processed[(message.event_id, service.name)] = ctx.now
        if mark_dispatched:
            self._mark_dispatched(session, writes, message, service.name)
        return out

    def apply_operator(self, session: Session, row: IncidentRow, actions: list[Action], *, actor: str,
                       correlation_id: str) -> Applied:
        """Actions an operator asked for directly (share, attach), audited under the operator's agency.

        row is the session's own, so what they change in it is flushed by the session."""
        out = Applied()
        ctx = _Ctx(session, row, actor, correlation_id, self._clock(), out, _Writes.of(session))
        for action in actions:
            self._run(ctx, action)
        return out

    @staticmethod
    def _incident(session: Session, writes: _Writes, message: EventMessage) -> IncidentRow:
        incident_id = message.event.incident_id
        row = writes.incidents.get(incident_id)
        if row is None:
            row = incident_repo.load_incidents(session, [incident_id]).get(incident_id)
            if row is None:  # the intake transaction always creates it first; a missing row is a bug upstream
                raise LookupError(f"incident {incident_id} not found for event {message.event_id}")
            writes.incidents[incident_id] = row
        return row

    def _mark_dispatched(self, session: Session, writes: _Writes, message: EventMessage, service: str) -> None:
        """The event leaves the redelivery set once every service for its code has handled it."""
        others = {s.name for s in self._registry.for_code(message.event.code)} - {service}
        if others:
            done = incident_repo.processed_by(session, message.event_id)
            done |= {s for e, s in writes.processed if e == message.event_id}
            if not others <= done:
                return
        writes.dispatched.append(message.event_id)

    def _run(self, ctx: _Ctx, action: Action | PlannedRoutes) -> None:
        match action:
            case PlannedRoutes():
                self._save_plan(ctx, action)
            case SelectCameras():
                self._select(ctx, action)
            case SelectInArea():
                self._select_area(ctx, action)
            case GrantVideo():
                self._grant(ctx, action)
            case RefuseVideo():
                self._refuse(ctx, action)
            case Notify():
                self._notify(ctx, action)
            case AttachMedia():
                self._attach(ctx, action)
            case EditCameras():
                self._edit_cameras(ctx, action)
            case Acknowledge():
                self._acknowledge(ctx)
            case ForwardEvent():
                linkage_repo.enqueue(ctx.session, action.partner, action.event, trail=action.trail, now=ctx.now)

    def _audit(self, ctx: _Ctx, action: AuditAction, subject: str, detail: dict[str, object]) -> None:
        ctx.writes.audit.append(AuditEntry(action, ctx.actor, subject, detail, ctx.now, ctx.correlation_id))

    def _record_selection(self, ctx: _Ctx, selection: Selection) -> None:
        incident_repo.set_cameras(ctx.row, list(selection.cameras), selection.note)
        ctx.row.updated_at = ctx.now
        cameras = [c.model_dump(mode="json") for c in selection.cameras]
        self._audit(ctx, AuditAction.CAMERAS_SELECTED, ctx.row.id,
                    {"cameras": [c.id for c in selection.cameras], "radius_m": selection.radius_m,
                     "widened": selection.widened, "note": selection.note})
        ctx.out.stream.append(("cameras.selected",
                               {"incident_id": ctx.row.id, "cameras": cameras, "radius_m": selection.radius_m,
                                "widened": selection.widened, "note": selection.note}, frozenset(ctx.row.agencies)))
        self._refresh_grants(ctx)

    def _select(self, ctx: _Ctx, action: SelectCameras) -> None:
        if action.only_if_granted_to is not None and not self._live_grant(ctx, action.only_if_granted_to):
            return
        if action.same_as_incident is not None:
            source = ctx.session.execute(select(IncidentRow).where(IncidentRow.key == action.same_as_incident)
                                         ).scalar_one_or_none()
            # The report decides: a dispatch for a report that got no video (not a violent crime) gets none either.
            if source is not None and source.id != ctx.row.id:
                ctx.row.cameras = list(source.cameras)
                ctx.row.selection_note = f"same cameras as incident {source.id}"
                ctx.row.updated_at = ctx.now
                self._audit(ctx, AuditAction.CAMERAS_SELECTED, ctx.row.id,
                            {"cameras": [c["id"] for c in source.cameras], "copied_from": source.id})
                ctx.out.stream.append(("cameras.selected",
                                       {"incident_id": ctx.row.id, "cameras": list(source.cameras),
                                        "note": ctx.row.selection_note}, frozenset(ctx.row.agencies)))
                self._refresh_grants(ctx)
                return
        cameras: CandidateSource = (PostgisCameras(ctx.session) if self._settings.selection.engine == "postgis"
                                    else self._index)
        selection = select_cameras(cameras, ctx.row.lon, ctx.row.lat,
                                   radius_m=action.radius_m or self._settings.selection.radius_m,
                                   k=action.k or self._settings.selection.k)
        self._record_selection(ctx, selection)

    def _select_area(self, ctx: _Ctx, action: SelectInArea) -> None:
        row = ctx.row
        polygon = area_polygon(Area.model_validate(row.area)) if row.area is not None else \
            circle_polygon(row.lon, row.lat, row.radius_m or action.default_radius_m)
        cameras: CandidateSource = (PostgisCameras(ctx.session) if self._settings.selection.engine == "postgis"
                                    else self._index)
        self._record_selection(ctx, select_in_area(cameras, polygon))

    def _live_grant(self, ctx: _Ctx, agency: str) -> bool:
        grant = self._grants(ctx).get(agency)
        return grant is not None and grant.revoked_at is None and grant.expires_at > ctx.now

    def _refuse(self, ctx: _Ctx, action: RefuseVideo) -> None:
        row = ctx.row
        incident_repo.involve(row, action.agency)  # the agency sees its incident, and that video was refused
        self._audit(ctx, AuditAction.GRANT_REFUSED, row.id, {"agency": action.agency, "reason": action.reason})
        ctx.out.stream.append(("grant.refused", {"incident_id": row.id, "agency": action.agency,
                                                 "reason": action.reason}, frozenset(row.agencies)))

    def _grant(self, ctx: _Ctx, action: GrantVideo) -> None:
        row = ctx.row
        if row.ended_at is not None:
            return  # the incident ended before this service got to it: no video
        if action.renew_only and not self._live_grant(ctx, action.agency):
            return
        cameras = list(incident_repo.camera_ids(row))
        if not cameras:
            return
        self._ensure_agency(ctx, action.agency)
        max_duration = timedelta(seconds=self._settings.grants.max_duration_s)
        grants = self._grants(ctx)
        grant = grants.get(action.agency)
        if grant is None:
            grant = GrantRow(id=str(uuid.uuid4()), incident_id=row.id, agency=action.agency, cameras=cameras,
                             purpose=action.purpose, issued_at=ctx.now,
                             expires_at=grant_expiry(now=ctx.now, max_duration=max_duration), revoked_at=None,
                             revoke_reason="", version=1)
            ctx.writes.new_grants[grant.id] = grant
            grants[action.agency] = grant
        elif grant.revoked_at is None and grant.expires_at > ctx.now and list(grant.cameras) == cameras:
            return  # the same grant already covers exactly these cameras
        else:
            renew = grant.revoked_at is not None or grant.expires_at <= ctx.now
            grant.cameras = cameras
            if not action.renew_only:  # a renewal keeps the purpose it was granted for
                grant.purpose = action.purpose
            grant.version += 1
            if renew:
                grant.revoked_at, grant.revoke_reason = None, ""
                grant.issued_at = ctx.now
                grant.expires_at = grant_expiry(now=ctx.now, max_duration=max_duration)
            ctx.writes.changed_grants[grant.id] = grant
        incident_repo.involve(row, action.agency)
        self._audit(ctx, AuditAction.GRANT_ISSUED, grant.id,
                    {"incident": row.id, "agency": action.agency, "cameras": cameras, "purpose": action.purpose,
                     "expires_at": grant.expires_at.isoformat(), "version": grant.version})
        ctx.out.stream.append(("grant.issued",
                               {"grant_id": grant.id, "incident_id": row.id, "agency": action.agency,
                                "cameras": cameras, "expires_at": grant.expires_at.isoformat()},
                               frozenset(row.agencies)))

    @staticmethod
    def _grants(ctx: _Ctx) -> dict[str, GrantRow]:
        """The incident's grants by agency, read once per transaction and kept up to date in it."""
        grants = ctx.writes.grants.get(ctx.row.id)
        if grants is None:
            grants = ctx.writes.grants[ctx.row.id] = {g.agency: g for g in
                                                      incident_repo.load_grants(ctx.session, ctx.row.id)}
        return grants

    def _refresh_grants(self, ctx: _Ctx) -> None:
        """Every live grant of the incident follows its current cameras (new token version, audited)."""
        for grant in list(self._grants(ctx).values()):
            if grant.revoked_at is None and grant.expires_at > ctx.now:
                self._grant(ctx, GrantVideo(agency=grant.agency, purpose=grant.purpose))

    def _edit_cameras(self, ctx: _Ctx, action: EditCameras) -> None:
        row = ctx.row
        current = [c for c in row.cameras if c["id"] not in action.remove]
        present = {c["id"] for c in current}
        for camera_id in action.add:
            if camera_id in present:
                continue
            camera = camera_repo.get(ctx.session, camera_id)
            if camera is None:
                raise UnknownCamera(camera_id)
            described = describe_camera(camera, row.lon, row.lat)
            reason = f"added by {ctx.actor}: {described.reason}"
            current.append(described.model_copy(update={"reason": reason}).model_dump(mode="json"))
            present.add(camera_id)
        row.cameras = current
        row.updated_at = ctx.now
        self._audit(ctx, AuditAction.CAMERAS_SELECTED, row.id,
                    {"cameras": [c["id"] for c in current], "added": list(action.add),
                     "removed": list(action.remove), "by": ctx.actor})
        ctx.out.stream.append(("cameras.selected", {"incident_id": row.id, "cameras": current,
                                                    "note": f"edited by {ctx.actor}"}, frozenset(row.agencies)))
        self._refresh_grants(ctx)

    def _acknowledge(self, ctx: _Ctx) -> None:
        ctx.row.acknowledged_by, ctx.row.acknowledged_at = ctx.actor, ctx.now
        self._audit(ctx, AuditAction.INCIDENT_STATUS, ctx.row.id, {"acknowledged_by": ctx.actor})
        ctx.out.stream.append(("incident.updated", incident_summary(ctx.row), frozenset(ctx.row.agencies)))

    def _ensure_agency(self, ctx: _Ctx, agency_id: str) -> None:
        """A dispatched sub-unit (police/patrol-12) is created on first use under its known parent."""
        # Agencies are never deleted, so one that was seen once need not be looked up again.
        if agency_id in self._known_agencies:
            return
        if agency_repo.get_agency(ctx.session, agency_id) is not None:
            self._known_agencies.add(agency_id)
            return
        parent_id, _, unit = agency_id.partition("/")
        parent = agency_repo.get_agency(ctx.session, parent_id) if unit else None
        if parent is None:
            raise UnknownAgency(agency_id)
        agency_repo.create_if_absent(ctx.session, Agency(id=agency_id, name=f"{parent.name}: {unit}",
                                                         kind=parent.kind), now=ctx.now)

    def _notify(self, ctx: _Ctx, action: Notify) -> None:
        if action.recipient == "guardian":
            target, channel = self._settings.notify.guardian_webhook_url, "guardian"
        else:
            agency = agency_repo.get_agency(ctx.session, action.recipient)
            target, channel = (agency.webhook_url if agency else None), "agency"
            incident_repo.involve(ctx.row, action.recipient)
        note_id, status = str(uuid.uuid4()), "pending" if target else "no_endpoint"
        ctx.writes.notifications.append({
            "id": note_id, "incident_id": ctx.row.id, "recipient": action.recipient, "channel": channel,
            "message": action.message, "contact": action.contact, "target_url": target, "status": status,
            "attempts": 0, "next_attempt_at": ctx.now if target else None, "delivered_at": None,
            "last_error": "" if target else "no delivery endpoint configured", "created_at": ctx.now})
        self._audit(ctx, AuditAction.NOTIFICATION, ctx.row.id,
                    {"notification": note_id, "recipient": action.recipient, "channel": channel,
                     "deliverable": target is not None})
        ctx.out.notifications += 1
        ctx.out.stream.append(("notification.created",
                               {"incident_id": ctx.row.id, "notification_id": note_id, "recipient": action.recipient,
                                "message": action.message, "status": status}, frozenset(ctx.row.agencies)))

    def _save_plan(self, ctx: _Ctx, planned: PlannedRoutes) -> None:
        if ctx.row.ended_at is not None:
            return
        view = planned.view(camera_repo.names(ctx.session, planned.camera_ids()))
        plan_repo.save(ctx.session, ctx.row.id, planned.kind, view, now=ctx.now)
        summary = planned.summary()
        if planned.recipient is not None:
            self._notify(ctx, Notify(recipient=planned.recipient, message=summary))
        ctx.out.stream.append(("incident.plan", {"incident_id": ctx.row.id, "kind": planned.kind,
                                                 "summary": summary}, frozenset(ctx.row.agencies)))

    def _attach(self, ctx: _Ctx, action: AttachMedia) -> None:
        ctx.row.media = [*ctx.row.media, {"kind": action.kind, "url": action.url, "at": ctx.now.isoformat()}]
        ctx.row.updated_at = ctx.now
        ctx.out.stream.append(("incident.updated", incident_summary(ctx.row), frozenset(ctx.row.agencies)))
