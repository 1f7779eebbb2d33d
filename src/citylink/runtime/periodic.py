"""A background round run every few seconds until stopped: the relay, the overdue-walk check, the retention of
plate reads, notification delivery, the environment outbox. wake() runs the next round at once (new work was
just committed). A failing round (the database or the broker away) is logged and the next one tries again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, every_s: float, round_: Callable[[], Awaitable[object]], *,
                 first_after_s: float = 0.0) -> None:
        self._name = name
        self._every_s = every_s
        self._round = round_
        self._first_after_s = first_after_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        await asyncio.sleep(self._first_after_s)
        while True:
            try:
                await self._round()
            except Exception as exc:
                log.warning("%s failed, trying again in %g s: %s", self._name, self._every_s, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._every_s)
            self._wake.clear()
