"""Dead letters of the device intake: messages that could not be taken in, with the reason. Admins only:
a payload may carry personal data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.domain.agencies import Role
from citylink.store import dead_letter_repo

router = APIRouter(tags=["devices"])


@router.get("/dead-letters")
async def list_dead_letters(platform: PlatformDep, principal: PrincipalDep,
                            before: int | None = Query(default=None, ge=1, le=2**62,
                                                       description="only letters older than this id (paging)"),
                            limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Newest first: topic, the start of the payload (payload_bytes is its full size), reason and time."""
    forbid(principal, principal.role is Role.ADMIN, "read dead letters")
    rows = await platform.db.read(lambda s: dead_letter_repo.page(s, before_id=before, limit=limit))
    return [{"id": r.id, "received_at": r.received_at.isoformat(), "topic": r.topic, "reason": r.reason,
             "payload": r.payload, "payload_bytes": r.payload_bytes} for r in rows]
