"""A worker process: the services, notifications and the relay, with no HTTP (``citylink serve --role worker``)."""

from __future__ import annotations

import asyncio
import logging
import signal

from citylink.runtime.platform import Platform
from citylink.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    """Until SIGTERM or SIGINT. Work taken but not finished when the process dies is handed out again by the
    broker after its acknowledgement wait."""
    platform = Platform.open(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await platform.start()
    cities = ", ".join(settings.worker_cities) or "every city"
    log.warning("worker started: %s, %s", cities, settings.nats_url)
    try:
        await stopping.wait()
    finally:
        await platform.stop()
        log.warning("worker stopped")
