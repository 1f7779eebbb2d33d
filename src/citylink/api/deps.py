"""Typed dependencies: the platform, and the authenticated caller."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from citylink.api.errors import Problem
from citylink.auth.api_keys import hash_key
from citylink.auth.sessions import COOKIE_NAME, SessionError
from citylink.domain.agencies import Principal
from citylink.runtime.platform import Platform
from citylink.store import agency_repo

_CACHE_TTL_S = 10.0


async def get_platform(request: Request) -> Platform:
    # async on purpose: FastAPI runs a plain-def dependency in its thread pool, a hop on every request.
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


class PrincipalCache:
    """Key hash → principal for a few seconds: intake at thousands of requests a second should not hit the
    database to authenticate each one. A revoked key stops working within the TTL."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or time.monotonic() - entry[0] > _CACHE_TTL_S:
            return None
        return entry[1]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (time.monotonic(), principal)

    def clear(self) -> None:
        self._entries.clear()


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if not header:
        raise Problem(401, "authentication required", "send Authorization: Bearer <API key>",
                      headers={"WWW-Authenticate": "Bearer"})
    if scheme.lower() != "bearer" or not credential.strip():
        raise Problem(401, "authentication required", "the Authorization header must be 'Bearer <API key>'",
                      headers={"WWW-Authenticate": "Bearer"})
    return credential.strip()


async def get_principal(request: Request, platform: PlatformDep) -> Principal:
    cache: PrincipalCache = request.app.state.principals
    session = request.cookies.get(COOKIE_NAME)
    if session and "authorization" not in request.headers:
        return await _from_session(session, cache, platform)
    key = _bearer(request)
    digest = hash_key(key)
    principal = cache.get(digest)
    if principal is None:
        principal = await platform.db.read(lambda s: agency_repo.authenticate(s, key))
        if principal is None:
            raise Problem(401, "authentication failed", "API key not recognised or revoked",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        cache.put(digest, principal)
    return principal


async def _from_session(token: str, cache: PrincipalCache, platform: Platform) -> Principal:
    digest = hash_key(token)
    principal = cache.get(digest)
    if principal is not None:
        return principal
    try:
        principal = platform.sessions.verify(token, now=platform.clock())
    except SessionError as exc:
        raise Problem(401, "authentication failed", str(exc)) from None
    key_id = principal.key_id
    if not await platform.db.read(lambda s: agency_repo.key_active(s, key_id)):
        raise Problem(401, "authentication failed", "the API key behind this session was revoked; log in again")
    cache.put(digest, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def forbid(principal: Principal, allowed: bool, what: str) -> None:
    if not allowed:
        raise Problem(403, "forbidden", f"role {principal.role.value} of agency {principal.agency} may not {what}")


def handles(principal: Principal, agency: str) -> bool:
    """Centre staff handle every agency's units and sensors; an agency (or a parent of the sub-unit) its own."""
    return principal.role.may_manage_cameras or agency == principal.agency or agency.startswith(principal.agency + "/")


def registering_for(principal: Principal, agency: str | None, what: str) -> str:
    """The agency a unit or sensor is registered for (default the caller's), or 403 when the caller may not."""
    owner = agency or principal.agency
    forbid(principal, handles(principal, owner) and principal.role.may_act_on_incidents, f"register {what} of "
           f"agency {owner}")
    return owner
