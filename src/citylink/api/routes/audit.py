"""The audit trail, for auditors and admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.domain.audit import verify_chain
from citylink.store import audit_repo

router = APIRouter(tags=["audit"])


@router.get("/audit")
async def list_audit(platform: PlatformDep, principal: PrincipalDep, subject: str | None = None,
                     action: str | None = None, after: int = Query(default=0, ge=0, le=2**62),
                     limit: int = Query(default=200, ge=1, le=5000)) -> list[dict[str, Any]]:
    forbid(principal, principal.role.may_read_audit, "read the audit trail")
    records = await platform.db.read(
        lambda s: audit_repo.page(s, subject=subject, action=action, after_seq=after, limit=limit))
    return [{"seq": r.seq, "at": r.at.isoformat(), "action": r.action, "actor": r.actor, "subject": r.subject,
             "detail": r.detail, "correlation_id": r.correlation_id, "hash": r.hash} for r in records]


@router.get("/audit/verify")
async def verify(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    forbid(principal, principal.role.may_read_audit, "verify the audit trail")
    problems, count = await platform.db.read(
        lambda s: (verify_chain(audit_repo.iter_records(s)), audit_repo.count(s)))
    return {"ok": not problems, "records": count,
            "problems": [{"seq": p.seq, "position": p.position, "reason": p.reason} for p in problems[:100]]}
