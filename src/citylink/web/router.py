"""Pages and static files. Leaflet comes from the XStatic-Leaflet package: no CDN on a closed network."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from citylink.api.deps import PlatformDep
from citylink.auth.grant_tokens import TokenClaims, TokenError
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.store import audit_repo

STATIC_DIR = Path(str(resources.files("citylink.web") / "static"))
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)

router = APIRouter(include_in_schema=False)

# Pages never change under a running server, but a browser must not keep a stale one after an upgrade.
_NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/board")


@router.get("/board")
async def board() -> FileResponse:
    return FileResponse(STATIC_DIR / "board.html", headers=_NO_CACHE)


@router.get("/stats")
async def stats() -> FileResponse:
    """Service usage drawn (its data comes from /api/v1/statistics/services, with the board's login)."""
    return FileResponse(STATIC_DIR / "stats.html", headers=_NO_CACHE)


@router.get("/view/{token}")
async def responder_view(token: str, request: Request, platform: PlatformDep) -> FileResponse:
    """The responder's page; opening it is audited (its data comes from /api/v1/view/{token})."""
    now = platform.clock()
    ip = request.client.host if request.client else ""

    try:
        claims: TokenClaims | None = platform.signer.verify(token, now=now, allow_expired=True)
    except TokenError:
        claims = None
    actor = claims.agency if claims else "unknown"
    subject = f"grant/{claims.grant_id}" if claims else "grant/-"

    def audit_open(session: Session) -> None:
        audit_repo.append(session, AuditEntry(AuditAction.VIEW_OPENED, actor, subject,
                                              {"valid_token": claims is not None, "ip": ip}, now))

    await platform.db.write(audit_open)
    return FileResponse(STATIC_DIR / "view.html", headers=_NO_CACHE)


def static_mounts() -> list[Mount]:
    return [
        Mount("/static/vendor/leaflet", app=StaticFiles(directory=LEAFLET_DIR), name="leaflet"),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
