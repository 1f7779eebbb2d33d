"""Camera pictures for the board and the responder view, only through a grant, re-checked while streaming."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from citylink.api.deps import PlatformDep
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.runtime.platform import Platform
from citylink.runtime.video_access import VideoAuthRequest
from citylink.store import audit_repo, camera_repo
from citylink.video.simulated import render_frame

router = APIRouter(tags=["video"])

BOUNDARY = "citylinkframe"
FRAME_INTERVAL_S = 0.5
STILL_AUDIT_EVERY_S = 60.0
RECHECK_EVERY_FRAMES = 2  # the grant is checked again every second: revocation stops the picture within 1 s


@router.get("/video/{camera_id}.jpg", response_model=None,
            responses={200: {"content": {"image/jpeg": {}}}, 401: {"description": "no or bad grant token"},
                       403: {"description": "not granted"}})
async def still(camera_id: str, request: Request, platform: PlatformDep,
                jwt: str = Query(default="", max_length=4096, description="the grant token")) -> Response:
    """One picture now, for tiles that are not streaming. Audited like a stream: the first still of a grant and
    camera in a minute, and every denial."""
    ask = VideoAuthRequest(action="read", path=f"camera/{camera_id}", token=jwt, protocol="jpeg",
                           ip=request.client.host if request.client else "")
    decision = await platform.authorize_video(ask, audit_repeat_after_s=STILL_AUDIT_EVERY_S)
    if not decision.allowed:
        return JSONResponse({"allowed": False, "reason": decision.reason}, status_code=decision.status)
    camera = await platform.db.read(lambda s: camera_repo.get(s, camera_id))
    jpeg = await platform.run_blocking(render_frame, camera_id, camera.name if camera else camera_id,
                                       _local_now(platform))
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/video/{camera_id}.mjpeg", response_model=None,
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}},
                       401: {"description": "no or bad grant token"}, 403: {"description": "not granted"}})
async def mjpeg(camera_id: str, request: Request, platform: PlatformDep,
                jwt: str = Query(default="", max_length=4096, description="the grant token")
                ) -> StreamingResponse | JSONResponse:
    """A simulated camera's live picture as MJPEG; the opening and any later denial are audited."""
    ask = VideoAuthRequest(action="read", path=f"camera/{camera_id}", token=jwt, protocol="mjpeg",
                           ip=request.client.host if request.client else "")
    decision = await platform.authorize_video(ask)
    if not decision.allowed:
        return JSONResponse({"allowed": False, "reason": decision.reason}, status_code=decision.status)
    camera = await platform.db.read(lambda s: camera_repo.get(s, camera_id))
    name = camera.name if camera else camera_id

    async def frames() -> AsyncIterator[bytes]:
        frame_no = 0
        while True:
            if frame_no and frame_no % RECHECK_EVERY_FRAMES == 0:
                again = await platform.db.read(lambda s: platform.video.check(s, ask, now=platform.clock()))
                if not again.allowed:
                    stopped = AuditEntry(AuditAction.VIDEO_DENIED, decision.agency, ask.path,
                                         {"grant": decision.grant_id, "reason": f"stream stopped: {again.reason}",
                                          "protocol": "mjpeg"}, platform.clock())
                    await platform.db.write(functools.partial(audit_repo.append, entry=stopped))
                    return
            jpeg = await platform.run_blocking(render_frame, camera_id, name, _local_now(platform))
            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                   + jpeg + b"\r\n")
            frame_no += 1
            await asyncio.sleep(FRAME_INTERVAL_S)

    return StreamingResponse(frames(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-store"})


def _local_now(platform: Platform) -> datetime:
    """The picture's clock reads the city's time, as a camera's overlay would."""
    return platform.clock().astimezone(ZoneInfo(platform.settings.timezone))
