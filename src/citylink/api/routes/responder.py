"""The responder's view of one grant: what it covers and whether it still lives. The token is the credential."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from citylink.api.deps import PlatformDep
from citylink.api.errors import Problem
from citylink.api.routes.board import basemap_response
from citylink.auth.grant_tokens import TokenError
from citylink.runtime.platform import Platform
from citylink.runtime.views import incident_summary
from citylink.store import camera_repo, incident_repo
from citylink.store.tables import GrantRow, IncidentRow

router = APIRouter(tags=["responder"])


def grant_state(session: Session, token: str, platform: Platform) -> dict[str, Any]:
    now = platform.clock()
    try:
        claims = platform.signer.verify(token, now=now, allow_expired=True)
    except TokenError as exc:
        raise Problem(401, "invalid grant", str(exc), field="/token") from None
    row = session.get(GrantRow, claims.grant_id)
    incident = session.get(IncidentRow, row.incident_id) if row else None
    if row is None or incident is None:
        raise Problem(401, "invalid grant", "grant not found", field="/token")
    grant = incident_repo.to_grant(row)
    status = "revoked" if grant.revoked else "expired" if not grant.is_live(now) else "live"
    selected = {str(c["id"]): c for c in incident.cameras}
    cameras = []
    if status == "live":  # a dead grant shows nothing of the cameras any more
        for camera_id in grant.cameras:
            camera = camera_repo.get(session, camera_id)
            if camera is not None:
                chosen = selected.get(camera_id, {})
                cameras.append({"id": camera.id, "name": camera.name, "lon": camera.lon, "lat": camera.lat,
                                "tier": chosen.get("tier"), "reason": chosen.get("reason", "")})
    return {"status": status, "reason": grant.revoke_reason if grant.revoked else "", "agency": grant.agency,
            "timezone": platform.settings.timezone,
            "purpose": grant.purpose, "expires_at": grant.expires_at.isoformat(),
            "incident": incident_summary(incident), "cameras": cameras}


@router.get("/view/{token}")
async def view(token: str, platform: PlatformDep) -> dict[str, Any]:
    return await platform.db.read(lambda s: grant_state(s, token, platform))


@router.get("/view/{token}/basemap", response_model=None)
async def view_basemap(token: str, request: Request, platform: PlatformDep) -> Response:
    """The city's base map for a responder's terminal, while its grant lives (no board login there)."""
    state = await platform.db.read(lambda s: grant_state(s, token, platform))
    if state["status"] != "live":
        raise Problem(403, "forbidden", f"grant {state['status']}", field="/token")
    return await basemap_response(request, platform)
