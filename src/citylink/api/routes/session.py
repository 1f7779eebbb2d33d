"""Board login: trade an agency API key for an HttpOnly session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from citylink.api.deps import PlatformDep
from citylink.api.errors import Problem
from citylink.auth.sessions import COOKIE_NAME
from citylink.store import agency_repo

router = APIRouter(tags=["session"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=256, description="the agency API key")


@router.post("/session", status_code=204)
async def login(body: LoginIn, platform: PlatformDep) -> Response:
    principal = await platform.db.read(lambda s: agency_repo.authenticate(s, body.key))
    if principal is None:
        raise Problem(401, "authentication failed", "API key not recognised or revoked", field="/key")
    token = platform.sessions.sign(principal, now=platform.clock())
    response = Response(status_code=204)
    response.set_cookie(COOKIE_NAME, token, max_age=int(platform.sessions.ttl.total_seconds()), httponly=True,
                        samesite="strict", path="/")
    return response


@router.delete("/session", status_code=204)
async def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
