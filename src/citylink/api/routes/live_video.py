"""Camera pictures for the board and the responder view, only through a grant, re-checked while streaming."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from citylink.api.deps import PlatformDep
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.runtime.video_access import VideoAuthRequest
from citylink.store import audit_repo, camera_repo
from citylink.video.simulated import render_frame

router = APIRouter(tags=["video"])

BOUNDARY = "citylinkframe"
FRAME_INTERVAL_S = 0.5
RECHECK_EVERY_FRAMES = 2  # the grant is checked again every second: revocation stops the picture within 1 s


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
            jpeg = await platform.run_blocking(render_frame, camera_id, name, platform.clock())
            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                   + jpeg + b"\r\n")
            frame_no += 1
            await asyncio.sleep(FRAME_INTERVAL_S)

    return StreamingResponse(frames(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-store"})
