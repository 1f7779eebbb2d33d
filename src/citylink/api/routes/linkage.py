"""The Korean linkage protocol's endpoints (``/api/getAuth.json``, ``/linkHttp/recvEvent.json``: the paths
linked systems already call), and the admin's view of what came in and what goes out.

The protocol endpoints answer in the protocol's reply format, always, with an HTTP status that says the same
(200; 400 unreadable or undecryptable; 401 authentication; 409 refused by intake; 422 unknown code or city):
senders that only read ``result`` and those that read the status both understand it. Received messages may
hold personal data: only admins list and replay them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse

from citylink.adapters.scsns import LinkStatus
from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.api.errors import Problem
from citylink.domain.agencies import Role
from citylink.runtime.linkage_in import Answer
from citylink.store import linkage_repo
from citylink.store.tables import LinkMessageRow

protocol_router = APIRouter(tags=["linkage protocol"])
router = APIRouter(tags=["linkage"])


def _answer(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.reply, status_code=answer.status_code)


@protocol_router.post("/api/getAuth.json")
async def get_auth(request: Request, platform: PlatformDep) -> JSONResponse:
    """body.apiKey (a citylink agency's API key) → a session key in ``message``, for ``rrKey``."""
    return _answer(await platform.linkage_in.authenticate(await request.body(), request.headers))


@protocol_router.post("/linkHttp/recvEvent.json")
async def receive_event(request: Request, platform: PlatformDep) -> JSONResponse:
    """An EVENT message, plain or ARIA-encrypted (encAt Y), taken in as a native event, or forwarded when its
    rcvCd names another city."""
    return _answer(await platform.linkage_in.receive(await request.body(), request.headers))


def message_view(row: LinkMessageRow) -> dict[str, Any]:
    return {"id": row.id, "received_at": row.received_at.isoformat(), "svc_ty": row.svc_ty, "send_cd": row.send_cd,
            "rcv_cd": row.rcv_cd, "sys_cd": row.sys_cd, "agency": row.agency, "encrypted": row.encrypted,
            "status": row.status, "field": row.field, "reason": row.reason, "event_id": row.event_id,
            "incident_id": row.incident_id, "raw": row.raw, "raw_bytes": row.raw_bytes,
            "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None}


@router.get("/linkage/messages")
async def list_messages(platform: PlatformDep, principal: PrincipalDep, status: LinkStatus | None = None,
                        before: int | None = Query(default=None, ge=1, le=2**62,
                                                   description="only messages older than this id (paging)"),
                        limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Newest first, with what became of each (processed, parse_error, decryption_error, unknown_code,
    auth_error, refused, forwarded, no_route)."""
    forbid(principal, principal.role is Role.ADMIN, "read linkage messages")
    rows = await platform.db.read(lambda s: linkage_repo.messages(
        s, status=status.value if status else None, before=before, limit=limit))
    return [message_view(r) for r in rows]


@router.post("/linkage/messages/{message_id}/replay")
async def replay(message_id: Annotated[int, FastApiPath(ge=1, le=2**62)], platform: PlatformDep,
                 principal: PrincipalDep) -> dict[str, Any]:
    """Take a recorded event message in again, as the agency that sent it: after a missing passphrase or code
    was configured. Its record shows the new outcome."""
    forbid(principal, principal.role is Role.ADMIN, "replay linkage messages")
    try:
        return message_view(await platform.linkage_in.replay(message_id))
    except LookupError:
        raise Problem(404, "not found", f"no linkage message {message_id}", field="/message_id") from None
    except ValueError as exc:
        raise Problem(409, "conflict", str(exc), field="/message_id") from None


@router.get("/linkage/partners")
async def partners(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Each configured partner with its delivery state: pending, delivered and refused events, the last error."""
    forbid(principal, principal.role.may_manage_cameras, "read the linkage partners")
    counts, states = await platform.db.read(lambda s: (linkage_repo.outbox_counts(s), linkage_repo.partners(s)))
    out = []
    for partner in platform.settings.linkage.partners:
        state = states.get(partner.id)
        out.append({"id": partner.id, "url": partner.url, "city_code": partner.city_code,
                    "encrypted": partner.passphrase is not None, "codes": list(partner.codes),
                    "urgent_only": partner.urgent_only, "area": partner.area,
                    **{f"{s}": counts.get((partner.id, s), 0) for s in ("pending", "delivered", "refused")},
                    "failures": state.failures if state else 0, "last_error": state.last_error if state else "",
                    "next_attempt_at": state.next_attempt_at.isoformat() if state and state.next_attempt_at else None,
                    "delivered_at": state.delivered_at.isoformat() if state and state.delivered_at else None})
    return {"partners": out}
