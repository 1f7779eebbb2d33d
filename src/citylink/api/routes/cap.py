"""CAP 1.2: the published alerts as an Atom feed of CAP messages, each message by its event, and inbound alerts
from a national weather or disaster system. Every signed-in caller may read the feed (the published codes are
disaster, air-quality and weather alerts, meant for the public); posting needs a role that may act."""

from __future__ import annotations

import uuid
from typing import Any
from xml.etree import ElementTree

from fastapi import APIRouter, Request, Response

from citylink.adapters.cap import CapRejected, identifier_of
from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.domain.events import Event
from citylink.store import cap_repo

router = APIRouter(tags=["CAP"])

FEED_ENTRIES = 100
ATOM = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
ElementTree.register_namespace("", ATOM)  # the feed written with Atom as its default namespace


@router.get("/cap/alerts", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}})
async def feed(request: Request, platform: PlatformDep, principal: PrincipalDep) -> Response:
    """The latest published alerts, newest first: an Atom feed whose entries link to their CAP 1.2 messages."""
    rows = await platform.db.read(lambda s: cap_repo.latest(s, platform.cap.codes, limit=FEED_ENTRIES))
    root = ElementTree.Element(f"{{{ATOM}}}feed")
    _text(root, "title", f"citylink {platform.settings.city_code}: published alerts")
    _text(root, "id", f"urn:citylink:{platform.cap.profile.sender}:cap")
    _text(root, "updated", (rows[0].received_at if rows else platform.clock()).isoformat())
    for row in rows:
        event = Event.model_validate(row.payload)
        entry = ElementTree.SubElement(root, f"{{{ATOM}}}entry")
        _text(entry, "id", f"urn:citylink:{identifier_of(event)}")
        _text(entry, "title", f"{event.code} {event.status.label}: {event.place or event.content or event.name}"[:200])
        _text(entry, "updated", event.time.isoformat())
        ElementTree.SubElement(entry, f"{{{ATOM}}}link", href=str(request.url_for("cap_alert", event_id=row.id)),
                               type=CAP_TYPE)
    return Response(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True),
                    media_type="application/atom+xml")


@router.get("/cap/alerts/{event_id}.xml", name="cap_alert", response_class=Response,
            responses={200: {"content": {CAP_TYPE: {}}}})
async def alert(event_id: str, platform: PlatformDep, principal: PrincipalDep) -> Response:
    def read(session: Any) -> bytes | None:
        row = cap_repo.by_id(session, event_id)
        return platform.cap.alert(session, row) if row is not None and row.code in platform.cap.codes else None

    xml = await platform.db.read(read)
    if xml is None:
        raise Problem(404, "not found", f"no published alert for event {event_id}", field="/event_id")
    return Response(xml, media_type=CAP_TYPE)


@router.post("/cap/alerts", status_code=201)
async def take_alert(request: Request, response: Response, platform: PlatformDep,
                     principal: PrincipalDep) -> dict[str, Any]:
    """One CAP 1.2 alert (XML body): Met → WESEN110, Env → APLEN110, anything else → DUCDP110; updates and
    cancels join the incident of the alert they reference. 422 names the element at fault."""
    forbid(principal, principal.role.may_act_on_incidents, "send alerts")
    try:
        event, accepted = await platform.cap.take(await request.body(), received_by=principal.agency,
                                                  correlation_id=f"cap-{uuid.uuid4().hex}")
    except CapRejected as exc:
        raise Problem(422, "invalid CAP alert", str(exc), field="/") from None
    response.status_code = 201 if accepted.created else 200
    return {"incident_id": accepted.incident_id, "event_id": accepted.event_id, "code": event.code,
            "status": event.status.value, "created": accepted.created}


def _text(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}").text = text
