"""Incidents: list, detail, status changes, media and sharing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.api.middleware import correlation_id
from citylink.api.schemas import CameraEdit, EventAccepted, MediaIn, ShareIn, StatusChange
from citylink.domain.actions import Acknowledge, AttachMedia, EditCameras
from citylink.domain.agencies import Principal, Role
from citylink.domain.events import Event, Item, Location, Sender
from citylink.runtime.platform import Platform
from citylink.runtime.views import (
    event_view,
    grant_view,
    incident_detail,
    incident_summary,
    notification_view,
)
from citylink.store import incident_repo, plan_repo
from citylink.store.tables import IncidentRow

router = APIRouter(tags=["incidents"])


def _visible(row: IncidentRow, principal: Principal) -> bool:
    return principal.role.sees_all_incidents or principal.is_party(set(row.agencies))


def load_visible(session: Session, incident_id: str, principal: Principal) -> IncidentRow:
    row = session.get(IncidentRow, incident_id)
    if row is None or not _visible(row, principal):
        # An agency cannot tell an incident it may not see from one that does not exist.
        raise Problem(404, "not found", f"no incident {incident_id}", field="/incident_id")
    return row


def detail(session: Session, incident_id: str, principal: Principal, platform: Platform) -> dict[str, Any]:
    row = load_visible(session, incident_id, principal)
    own = principal.role.sees_all_incidents
    grants = [grant_view(g, token=platform.signer.sign(incident_repo.to_grant(g))
                         if principal.role.may_see_tokens and (own or principal.is_party({g.agency}))
                         and g.revoked_at is None else None)
              for g in incident_repo.grants_for(session, row.id)
              if own or principal.is_party({g.agency})]
    reveal = principal.role.may_act_on_incidents
    events = [event_view(e, personal=platform.personal_keys, reveal=reveal)
              for e in incident_repo.events_for(session, row.id)]
    notes = [notification_view(n) for n in incident_repo.notifications_for(session, row.id)]
    return incident_detail(row, events=events, grants=grants, notifications=notes,
                           plans=plan_repo.plans_of(session, row.id))


@router.get("/incidents")
async def list_incidents(response: Response, platform: PlatformDep, principal: PrincipalDep,
                         status: str | None = Query(default=None, pattern="^(10|40|50|90|91|92)$"),
                         code: str | None = Query(default=None, max_length=16),
                         open_only: bool = Query(default=False, alias="open"),
                         offset: int = Query(default=0, ge=0, le=1_000_000_000),
                         limit: int = Query(default=100, ge=1, le=1000),
                         ) -> list[dict[str, Any]]:
    """Newest activity first; the total number matching is in the X-Total-Count header."""
    agency = None if principal.role.sees_all_incidents else principal.agency
    total, rows = await platform.db.read(lambda s: incident_repo.list_incidents(
        s, agency=agency, status=status, code=code, open_only=open_only, offset=offset, limit=limit))
    response.headers["X-Total-Count"] = str(total)
    return [incident_summary(r) for r in rows]


@router.get("/incidents/{incident_id}")
async def get_incident(incident_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return await platform.db.read(lambda s: detail(s, incident_id, principal, platform))


@router.post("/incidents/{incident_id}/status", status_code=201, response_model=EventAccepted)
async def change_status(incident_id: str, body: StatusChange, platform: PlatformDep,
                        principal: PrincipalDep) -> EventAccepted:
    """Change an incident's status as an operator: recorded as an event in its history like any other."""
    forbid(principal, principal.role.may_act_on_incidents, "change incident status")
    row = await platform.db.read(lambda s: load_visible(s, incident_id, principal))
    event = Event(code=row.code, name=row.name, grade=row.grade, status=body.status, occurrence=row.occurrence,
                  location=Location(lon=row.lon, lat=row.lat), place=row.place, content=body.content,
                  time=platform.clock(), sender=Sender(system=row.sender_system, city=row.sender_city),
                  items=(Item(key="CHANGED_BY", val=principal.agency),))
    accepted = await platform.submit(event, received_by=principal.agency, correlation_id=correlation_id.get())
    return EventAccepted(incident_id=accepted.incident_id, event_id=accepted.event_id)


@router.post("/incidents/{incident_id}/media", status_code=201)
async def add_media(incident_id: str, body: MediaIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Attach a scene snapshot or a suspect still captured by an operator; patrol units see it."""
    forbid(principal, principal.role.may_act_on_incidents, "attach media")
    row = await platform.operate(incident_id, [AttachMedia(kind=body.kind, url=body.url)], actor=principal.agency,
                                 correlation_id=correlation_id.get(),
                                 check=lambda s: load_visible(s, incident_id, principal))
    return {"incident_id": row.id, "media": list(row.media)}


@router.post("/incidents/{incident_id}/ack")
async def acknowledge(incident_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """An operator has seen the incident and is on it (stops the board's pulse for everyone)."""
    forbid(principal, principal.role.may_act_on_incidents, "acknowledge incidents")
    row = await platform.operate(incident_id, [Acknowledge()], actor=principal.agency,
                                 correlation_id=correlation_id.get(),
                                 check=lambda s: load_visible(s, incident_id, principal))
    return incident_summary(row)


@router.post("/incidents/{incident_id}/cameras")
async def edit_cameras(incident_id: str, body: CameraEdit, platform: PlatformDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    """Add cameras to or remove them from the incident; its live grants follow."""
    forbid(principal, principal.role.may_manage_cameras, "change an incident's cameras")
    await platform.operate(incident_id, [EditCameras(add=tuple(body.add), remove=tuple(body.remove))],
                           actor=principal.agency, correlation_id=correlation_id.get(),
                           check=lambda s: load_visible(s, incident_id, principal))
    return await platform.db.read(lambda s: detail(s, incident_id, principal, platform))


@router.post("/incidents/{incident_id}/grants", status_code=201)
async def share(incident_id: str, body: ShareIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Share the incident's cameras with another agency: a new grant, audited."""
    forbid(principal, principal.role.may_share, "share video with another agency")
    return await platform.share(incident_id, agency=body.agency, purpose=body.purpose, actor=principal.agency,
                                correlation_id=correlation_id.get() or uuid.uuid4().hex,
                                check=lambda s: load_visible(s, incident_id, principal))


@router.post("/incidents/{incident_id}/watch", status_code=201)
async def watch(incident_id: str, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """A grant for the caller's own agency to watch the incident's cameras.

    Centre operators get one on request (audited, purpose "operator monitoring"); a linked agency gets the
    grant it was given, never a new one; auditors get no video.
    """
    forbid(principal, principal.role is not Role.AUDITOR, "see video (auditors never do)")
    if principal.role is Role.AGENCY:
        return await platform.db.read(lambda s: _own_grant(s, incident_id, principal, platform))
    return await platform.share(incident_id, agency=principal.agency, purpose="operator monitoring",
                                actor=principal.agency, correlation_id=correlation_id.get() or uuid.uuid4().hex,
                                check=lambda s: load_visible(s, incident_id, principal))


def _own_grant(session: Session, incident_id: str, principal: Principal, platform: Platform) -> dict[str, Any]:
    row = load_visible(session, incident_id, principal)
    now = platform.clock()
    for grant in incident_repo.grants_for(session, row.id):
        if grant.agency == principal.agency and incident_repo.to_grant(grant).is_live(now):
            return grant_view(grant, token=platform.signer.sign(incident_repo.to_grant(grant)))
    raise Problem(403, "forbidden", f"agency {principal.agency} holds no live grant for this incident")
