"""The live feed: server-sent events, filtered by what the caller may see, resumable with Last-Event-ID."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from citylink.api.deps import PlatformDep, PrincipalDep

router = APIRouter(tags=["stream"])


@router.get("/stream")
async def stream(request: Request, platform: PlatformDep, principal: PrincipalDep) -> EventSourceResponse:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    last_id = int(raw) if raw and raw.isdigit() else None

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for message in platform.hub.listen(principal, last_event_id=last_id):
            yield ServerSentEvent(data=orjson.dumps(message.data).decode(), event=message.type, id=str(message.id))

    return EventSourceResponse(events(), ping=15)
