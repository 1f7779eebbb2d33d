"""The media server's auth hook and the key set that verifies grant tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from citylink.api.deps import PlatformDep
from citylink.runtime.video_access import VideoAuthRequest

router = APIRouter(tags=["video"])


@router.post("/video/auth", responses={200: {"description": "allowed"}, 401: {"description": "no or bad token"},
                                       403: {"description": "token fine, access not"}})
async def video_auth(body: VideoAuthRequest, platform: PlatformDep) -> JSONResponse:
    """MediaMTX HTTP-auth hook (authMethod: http). The grant token is the credential; every answer is audited."""
    decision = await platform.authorize_video(body)
    return JSONResponse({"allowed": decision.allowed, "reason": decision.reason}, status_code=decision.status)


jwks_router = APIRouter(tags=["video"])


@jwks_router.get("/.well-known/jwks.json")
async def jwks(platform: PlatformDep) -> dict[str, Any]:
    """Public keys for grant tokens (ES256), for media servers that verify JWTs themselves."""
    return platform.signer.jwks()
