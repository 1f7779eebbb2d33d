"""The bus on NATS JetStream: events survive a process dying, and any number of workers share them.

- One stream, CITYLINK_EVENTS, subject ``citylink.events.<city>.<code>`` (``citylink`` being the namespace): a
  region runs many cities, and a worker can take only some of them (one durable consumer per city, or one for all).
- Workers of the same partition share its durable pull consumer, so each message goes to one of them.
- A message is acknowledged only after every service for its code has committed its effects; a worker that
  dies before that leaves it unacknowledged and JetStream hands it to another after ``ack_wait``. Handlers are
  idempotent on the event identity, so a redelivery has no second effect.
- Publishing sets ``Nats-Msg-Id`` to the event id: a republished event (after an API process restarts, or by
  the relay of undispatched events) is dropped by the stream within its duplicate window.
- Publishing never makes intake wait for the broker: messages queue in memory and a sender hands them over.
  The store, not this queue, is what makes an event safe: an event not yet handled stays undispatched there,
  and the relay publishes it again (after a crash, or when the broker was away and the queue overflowed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from citylink.bus.nats_link import NatsLink, subject_token
from citylink.bus.port import EventMessage, Handler, Unsubscribe

log = logging.getLogger(__name__)

def consumer_name(city: str | None) -> str:
    return f"workers-{subject_token(city) if city else 'all'}"


@dataclass(slots=True)
class _Subscriber:
    name: str
    codes: frozenset[str]
    handler: Handler


class JetStreamBus:
    def __init__(self, link: NatsLink, *, cities: Sequence[str] = (), ack_wait_s: float = 30.0,
                 batch: int = 256, redeliver_after_failure_s: float = 2.0, outbound_limit: int = 50_000) -> None:
        self._link = link
        self._cities = tuple(cities)
        self._ack_wait_s = ack_wait_s
        self._batch = batch
        self._retry_delay_s = redeliver_after_failure_s
        self._subscribers: list[_Subscriber] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0
        self._stream = link.stream_name("events")
        self._outbound: asyncio.Queue[EventMessage] = asyncio.Queue(maxsize=outbound_limit)
        self._sender: asyncio.Task[None] | None = None
        self.overflowed = 0  # messages left to the relay because the broker was away too long

    async def start(self) -> None:
        await self._link.connect()
        await ensure_stream(self._link.js, self._stream, subjects=[self._link.subject("events", ">")],
                            max_age_s=7 * 86_400.0, duplicate_window_s=120.0)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_forever(), name="jetstream-sender")
        if self._subscribers and not self._tasks:
            for city in self._cities or (None,):
                self._tasks.append(asyncio.create_task(self._consume(city), name=f"jetstream:{consumer_name(city)}"))

    async def stop(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbound.join(), timeout=2.0)
            self._tasks.append(self._sender)
            self._sender = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def publish(self, message: EventMessage) -> None:
        try:
            self._outbound.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed += 1
            if self.overflowed % 1000 == 1:
                log.warning("broker unreachable for a while: %d events left to the relay", self.overflowed)

    async def _send_forever(self) -> None:
        while True:
            message = await self._outbound.get()
            try:
                await self._send(message)
            finally:
                self._outbound.task_done()

    async def _send(self, message: EventMessage) -> None:
        event = message.event
        subject = self._link.subject("events", subject_token(event.sender.city), subject_token(event.code))
        delay = 0.1
        while True:
            try:
                await self._link.js.publish(subject, message.to_bytes(), timeout=2.0,
                                            headers={"Nats-Msg-Id": event.event_id})
                return
            except (NatsError, OSError) as exc:
                log.warning("publishing event %s failed (%s); retrying", event.event_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def subscribe(self, name: str, codes: frozenset[str], handler: Handler) -> Unsubscribe:
        sub = _Subscriber(name, codes, handler)
        self._subscribers.append(sub)

        def unsubscribe() -> None:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

        return unsubscribe

    async def drain(self) -> None:
        """Until this process has handed every message to the broker, and its consumers have nothing pending
        and nothing unacknowledged."""
        await self._outbound.join()
        if not self._tasks:
            return
        names = [consumer_name(city) for city in self._cities or (None,)]
        while True:
            infos = [await self._link.js.consumer_info(self._stream, name) for name in names]
            if self._busy == 0 and all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
                return
            await asyncio.sleep(0.02)

    async def _consume(self, city: str | None) -> None:
        durable = consumer_name(city)
        filter_subject = self._link.subject("events", subject_token(city) if city else "*", ">")
        config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=self._ack_wait_s,
                                max_deliver=-1, max_ack_pending=20_000, filter_subject=filter_subject)
        while True:
            try:
                psub = await self._link.js.pull_subscribe(filter_subject, durable=durable, stream=self._stream,
                                                          config=config)
                break
            except (NatsError, OSError) as exc:
                log.warning("JetStream consumer %s not ready (%s); retrying", durable, exc)
                await asyncio.sleep(1.0)
        while True:
            try:
                msgs = await psub.fetch(self._batch, timeout=1.0)
            except NatsTimeout:
                continue
            except (NatsError, OSError) as exc:
                log.warning("JetStream fetch on %s failed (%s); retrying", durable, exc)
                await asyncio.sleep(0.5)
                continue
            self._busy += 1
            try:
                await self._handle(msgs)
            finally:
                self._busy -= 1

    async def _handle(self, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, EventMessage]] = []
        for msg in msgs:
            try:
                decoded.append((msg, EventMessage.from_bytes(msg.data)))
            except (ValueError, KeyError) as exc:
                # Only citylink publishes here; a message it cannot read would loop for ever if redelivered.
                log.error("dropping an unreadable message on %s: %s", msg.subject, exc)
                await msg.term()
        failed: set[str] = set()
        for sub in list(self._subscribers):
            batch = [m for _, m in decoded if m.event.code in sub.codes]
            if batch:
                failed |= await self._deliver(sub, batch)
        for msg, message in decoded:
            if message.event_id in failed:
                await msg.nak(delay=self._retry_delay_s)
            else:
                await msg.ack()

    async def _deliver(self, sub: _Subscriber, batch: list[EventMessage]) -> set[str]:
        """The ids of the events the subscriber could not handle."""
        try:
            await sub.handler(batch)
            return set()
        except Exception:
            log.exception("handler %s failed on a batch of %d; retrying one by one", sub.name, len(batch))
        failed = set()
        for message in batch:
            try:
                await sub.handler([message])
            except Exception:
                # Left unacknowledged for a later redelivery; the other services' effects are kept (idempotent).
                log.exception("handler %s failed on event %s [cid=%s]", sub.name, message.event_id,
                              message.correlation_id)
                failed.add(message.event_id)
        return failed


async def ensure_stream(js: JetStreamContext, name: str, *, subjects: list[str], max_age_s: float,
                        duplicate_window_s: float = 120.0, max_msgs: int | None = None) -> None:
    """Create the stream, or bring an existing one to this configuration."""
    config = StreamConfig(name=name, subjects=subjects, retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
                          max_age=max_age_s, duplicate_window=duplicate_window_s, max_msgs=max_msgs or -1)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)
