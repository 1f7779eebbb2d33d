"""Agencies, for admins; and who-am-I for everyone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from citylink.api.deps import PlatformDep, PrincipalDep, forbid
from citylink.store import agency_repo

router = APIRouter(tags=["agencies"])


@router.get("/me")
async def me(principal: PrincipalDep) -> dict[str, Any]:
    return {"agency": principal.agency, "role": principal.role.value, "key_id": principal.key_id}


@router.get("/agencies")
async def list_agencies(platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    forbid(principal, principal.role.sees_all_incidents, "list agencies")
    agencies = await platform.db.read(agency_repo.list_agencies)
    return [a.model_dump(mode="json") for a in agencies]
