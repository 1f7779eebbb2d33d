"""The in-process bus: one asyncio queue and worker per subscriber, each isolated from the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from citylink.bus.port import EventMessage, Handler, Unsubscribe

log = logging.getLogger(__name__)

MAX_BATCH = 256


class _Subscriber:
    def __init__(self, name: str, codes: frozenset[str], handler: Handler, *, retries: int, backoff_s: float) -> None:
        self.name = name
        self.codes = codes
        self.handler = handler
        self.queue: asyncio.Queue[EventMessage] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self._retries = retries
        self._backoff_s = backoff_s

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                if not await self._deliver(batch) and len(batch) > 1:
                    # Keep one poisonous event from holding back the ones that came with it.
                    for message in batch:
                        await self._deliver([message])
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _deliver(self, batch: list[EventMessage]) -> bool:
        for attempt in range(1, self._retries + 1):
            try:
                await self.handler(batch)
                return True
            except Exception:
                # One failing handler must not stop the others; the events stay undispatched in the store
                # and are handed out again at the next start if every retry fails.
                log.exception("handler %s failed on %d event(s) from %s (attempt %d/%d) [cid=%s]", self.name,
                              len(batch), batch[0].event_id, attempt, self._retries, batch[0].correlation_id)
                await asyncio.sleep(self._backoff_s * attempt)
        return False


class MemoryBus:
    def __init__(self, *, retries: int = 3, backoff_s: float = 0.05) -> None:
        self._subscribers: list[_Subscriber] = []
        self._retries = retries
        self._backoff_s = backoff_s
        self._running = False

    async def start(self) -> None:
        self._running = True
        for sub in self._subscribers:
            if sub.task is None:
                sub.task = asyncio.create_task(sub.run(), name=f"bus:{sub.name}")

    async def stop(self) -> None:
        self._running = False
        for sub in self._subscribers:
            if sub.task is not None:
                sub.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sub.task
                sub.task = None

    async def publish(self, message: EventMessage) -> None:
        for sub in self._subscribers:
            if message.event.code in sub.codes:
                sub.queue.put_nowait(message)

    def subscribe(self, name: str, codes: frozenset[str], handler: Handler) -> Unsubscribe:
        sub = _Subscriber(name, codes, handler, retries=self._retries, backoff_s=self._backoff_s)
        self._subscribers.append(sub)
        if self._running:
            sub.task = asyncio.create_task(sub.run(), name=f"bus:{name}")

        def unsubscribe() -> None:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
            if sub.task is not None:
                sub.task.cancel()

        return unsubscribe

    async def drain(self) -> None:
        for sub in list(self._subscribers):
            await sub.queue.join()
