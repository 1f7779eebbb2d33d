"""Grants as their holders and the centre see them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from citylink.api.deps import PlatformDep, PrincipalDep
from citylink.runtime.views import grant_view
from citylink.store import incident_repo

router = APIRouter(tags=["grants"])


@router.get("/grants")
async def list_grants(platform: PlatformDep, principal: PrincipalDep,
                      live: bool = Query(default=False, description="only grants that are neither revoked nor expired"),
                      incident_id: str | None = None) -> list[dict[str, Any]]:
    """Centre roles see every grant; an agency only its own (and its sub-units'). Tokens go to their holders."""
    agency = None if principal.role.sees_all_incidents else principal.agency
    now = platform.clock()
    rows = await platform.db.read(lambda s: incident_repo.list_grants(s, agency=agency, incident_id=incident_id))
    views = []
    for row in rows:
        grant = incident_repo.to_grant(row)
        if live and not grant.is_live(now):
            continue
        mine = principal.is_party({row.agency}) or principal.role.sees_all_incidents
        token = platform.signer.sign(grant) if (mine and principal.role.may_see_tokens and grant.is_live(now)) \
            else None
        views.append(grant_view(row, token=token))
    return views
