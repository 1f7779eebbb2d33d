"""Event intake and the catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.middleware import correlation_id
from citylink.api.schemas import EventAccepted, EventIn
from citylink.domain.agencies import Role
from citylink.domain.catalogue import CATALOGUE

router = APIRouter(tags=["events"])


@router.post("/events", status_code=201, response_model=EventAccepted,
             responses={200: {"description": "duplicate: already stored, nothing changed", "model": EventAccepted},
                        409: {"description": "the incident cannot take this status"}})
async def post_event(body: EventIn, response: Response, platform: PlatformDep,
                     principal: PrincipalDep) -> EventAccepted:
    """Store an event and open or update its incident. Answers only after the event is durably stored.

    Idempotent on sender city + code + occurrence number + status + time.
    """
    forbid(principal, principal.role is not Role.AUDITOR, "send events")
    accepted = await platform.submit(body.to_event(), received_by=principal.agency,
                                     correlation_id=correlation_id.get())
    if not accepted.created:
        response.status_code = 200
    return EventAccepted(incident_id=accepted.incident_id, event_id=accepted.event_id)


@router.get("/catalogue")
async def catalogue(_: PrincipalDep) -> list[dict[str, Any]]:
    """Every event code citylink accepts, and whether a linked service acts on it."""
    return [{"code": e.code, "name_ko": e.name_ko, "name_en": e.name_en, "default_grade": e.default_grade.value}
            for e in CATALOGUE.values()]
