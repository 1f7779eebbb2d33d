"""The live feed through JetStream: every API process hears every message, with the same ids.

Workers and API processes publish feed messages to ``<namespace>.feed.<city>``; the <NAMESPACE>_FEED stream keeps the
last ``replay`` of them. Each API process follows the stream with an ordered consumer, starting ``replay``
messages back, and hands each message to its stream hub with the stream sequence as its id. So an SSE client
can reconnect to any API process with its Last-Event-ID and miss nothing the stream still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from citylink.bus.jetstream import ensure_stream
from citylink.bus.nats_link import NatsLink, subject_token

log = logging.getLogger(__name__)

# Changes every process must take, the workers included: cameras (their selection index) and traffic (their
# routers). They have a subject of their own, so workers need not read every message meant for SSE clients.
SHARED_STATE_TYPES = frozenset({"camera.changed", "traffic.changed"})
SHARED_STATE = "state"

class FeedItem:
    """A feed message as it came off the stream."""

    __slots__ = ("audience", "data", "public", "seq", "type")

    def __init__(self, seq: int, type_: str, data: dict[str, Any], audience: frozenset[str], public: bool) -> None:
        self.seq = seq
        self.type = type_
        self.data = data
        self.audience = audience
        self.public = public


class JetStreamFeed:
    def __init__(self, link: NatsLink, *, city: str, replay: int) -> None:
        self._link = link
        self._subject = link.subject("feed", subject_token(city))
        self._state_subject = link.subject("feed", subject_token(city), SHARED_STATE)
        self._stream = link.stream_name("feed")
        self._replay = max(replay, 1)
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        await self._link.connect()
        await ensure_stream(self._link.js, self._stream, subjects=[self._link.subject("feed", ">")], max_age_s=86_400.0,
                            max_msgs=self._replay)
        self._sender = asyncio.create_task(self._send_forever(), name="feed-sender")

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
        if self._sender is not None:
            # What is queued still goes out: a worker stopping cleanly does not swallow its last messages.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), timeout=2.0)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

    def publish(self, type_: str, data: dict[str, Any], *, audience: frozenset[str] = frozenset(),
                public: bool = False) -> None:
        """Non-blocking, in order: called right after a commit, from code that must not wait on the broker."""
        subject = self._state_subject if type_ in SHARED_STATE_TYPES else self._subject
        self._outbox.put_nowait((subject, orjson.dumps({"type": type_, "data": data, "audience": sorted(audience),
                                                        "public": public})))

    async def follow(self, deliver: Callable[[FeedItem], None], *, shared_state_only: bool = False) -> None:
        """Call deliver for the last ``replay`` messages and then for every new one, in stream order
        (only camera and traffic changes, and only new ones, with shared_state_only)."""
        info = await self._link.js.stream_info(self._stream)
        last = info.state.last_seq

        async def on_message(msg: Msg) -> None:
            try:
                raw = orjson.loads(msg.data)
                item = FeedItem(msg.metadata.sequence.stream, str(raw["type"]), dict(raw["data"]),
                                frozenset(raw.get("audience", ())), bool(raw.get("public", False)))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("skipping an unreadable feed message on %s: %s", msg.subject, exc)
                return
            deliver(item)

        if shared_state_only:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
            subject = self._link.subject("feed", "*", SHARED_STATE)
        else:
            # Start replay messages back, so this process's hub can answer a Last-Event-ID from any other one.
            start = max(info.state.first_seq, last - self._replay + 1, 1)
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
            subject = self._link.subject("feed", ">")
        self._subscription = await self._link.js.subscribe(subject, stream=self._stream, ordered_consumer=True,
                                                           cb=on_message, config=config)

    async def _send_forever(self) -> None:
        while True:
            subject, payload = await self._outbox.get()
            try:
                # Plain publish: the stream stores it, and the sender does not wait for an acknowledgement.
                await self._link.nc.publish(subject, payload)
            except Exception as exc:  # the feed is best effort; state is always in the store
                log.warning("feed message not published: %s", exc)
            finally:
                self._outbox.task_done()

