"""The live feed: typed messages fanned out to SSE clients, with a replay buffer for Last-Event-ID."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from citylink.domain.agencies import Principal

STREAM_TYPES = ("incident.opened", "incident.updated", "incident.closed", "cameras.selected", "grant.issued",
                "grant.revoked", "notification.created", "camera.changed")


@dataclass(frozen=True, slots=True)
class StreamMessage:
    id: int
    type: str
    data: dict[str, Any]
    # Who may see it: agencies involved in the incident. Centre roles see everything.
    audience: frozenset[str] = field(default_factory=frozenset)
    public: bool = False

    def visible_to(self, principal: Principal) -> bool:
        return self.public or principal.role.sees_all_incidents or principal.is_party(self.audience)


class StreamHub:
    def __init__(self, *, replay: int, first_id: int | None = None) -> None:
        # Ids start at the boot time in microseconds, so they keep growing across restarts: a client that
        # reconnects to a restarted server with an old Last-Event-ID still gets every new message.
        self._ids = itertools.count(first_id if first_id is not None else time.time_ns() // 1000)
        self._recent: deque[StreamMessage] = deque(maxlen=max(replay, 1))
        self._listeners: set[asyncio.Queue[StreamMessage]] = set()

    def publish(self, type_: str, data: dict[str, Any], *, audience: frozenset[str] = frozenset(),
                public: bool = False) -> StreamMessage:
        message = StreamMessage(next(self._ids), type_, data, audience, public)
        self.deliver(message)
        return message

    def deliver(self, message: StreamMessage) -> None:
        """A message numbered elsewhere (the broker's feed stream, shared by every API process)."""
        self._recent.append(message)
        for queue in self._listeners:
            queue.put_nowait(message)

    @property
    def last_id(self) -> int:
        return self._recent[-1].id if self._recent else 0

    async def listen(self, principal: Principal, *, last_event_id: int | None = None) -> AsyncIterator[StreamMessage]:
        queue: asyncio.Queue[StreamMessage] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            if last_event_id is not None:
                for message in list(self._recent):
                    if message.id > last_event_id and message.visible_to(principal):
                        yield message
                        last_event_id = message.id
            while True:
                message = await queue.get()
                if (last_event_id is None or message.id > last_event_id) and message.visible_to(principal):
                    yield message
        finally:
            self._listeners.discard(queue)
