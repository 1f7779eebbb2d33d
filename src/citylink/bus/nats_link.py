"""One connection to NATS, shared by the JetStream bus and the live feed of a process."""

from __future__ import annotations

import asyncio
import logging
import re

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_token(value: str) -> str:
    """A city or event code as one subject token: dots and wildcards would split or widen a subject."""
    return _UNSAFE.sub("_", value) or "_"


class NatsLink:
    """namespace prefixes every stream and subject: several deployments (or test runs) can share one broker."""

    def __init__(self, url: str, *, name: str, namespace: str = "citylink", connect_timeout_s: float = 30.0) -> None:
        self._url = url
        self._name = name
        self.namespace = subject_token(namespace)
        self._connect_timeout_s = connect_timeout_s
        self._nc: Client | None = None

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise RuntimeError("not connected to NATS yet")
        return self._nc

    def stream_name(self, purpose: str) -> str:
        return f"{self.namespace}_{purpose}".upper()

    def subject(self, *tokens: str) -> str:
        return ".".join((self.namespace, *tokens))

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream()

    async def connect(self) -> None:
        """Connect, retrying while the broker starts (a process and its broker often start together); after
        that the client reconnects for ever and buffers what is published meanwhile."""
        if self._nc is not None:
            return
        deadline = asyncio.get_running_loop().time() + self._connect_timeout_s
        delay = 0.2
        while True:
            try:
                self._nc = await nats.connect(self._url, name=self._name, connect_timeout=2,
                                              max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                              error_cb=self._on_error, disconnected_cb=self._on_disconnected,
                                              reconnected_cb=self._on_reconnected)
                return
            except (OSError, nats.errors.Error) as exc:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise ConnectionError(f"NATS at {self._url} is not reachable: {exc}") from exc
                log.warning("NATS at %s not reachable yet (%s); retrying", self._url, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            if not nc.is_closed:
                await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        log.warning("NATS: disconnected from %s; reconnecting", self._url)

    async def _on_reconnected(self) -> None:
        log.warning("NATS: reconnected to %s", self._url)
