"""What the platform needs from a bus. The in-process one is the default; NATS JetStream can replace it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from citylink.domain.events import Event


@dataclass(frozen=True, slots=True)
class EventMessage:
    """An accepted, stored event on its way to the services."""

    event: Event
    correlation_id: str
    effect: str  # what the event did to its incident: opened, moved, updated or ended
    # Services that already acted on it in the transaction that stored it (see runtime/inline_services.py)
    handled: frozenset[str] = frozenset()

    @property
    def event_id(self) -> str:
        return self.event.event_id

    def to_bytes(self) -> bytes:
        return orjson.dumps({"event": self.event.model_dump(mode="json"), "correlation_id": self.correlation_id,
                             "effect": self.effect, "handled": sorted(self.handled)})

    @classmethod
    def from_bytes(cls, data: bytes) -> EventMessage:
        raw = orjson.loads(data)
        return cls(Event.model_validate(raw["event"]), str(raw["correlation_id"]), str(raw["effect"]),
                   frozenset(str(name) for name in raw.get("handled", ())))


# A handler takes what has queued up for it, in order: one transaction for many events keeps a busy
# service ahead of intake. Durable buses fetch in batches too (JetStream pull consumers).
Handler = Callable[[Sequence[EventMessage]], Awaitable[None]]
Unsubscribe = Callable[[], None]


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, message: EventMessage) -> None:
        """Hand the message to every subscriber of its code. Delivery is at least once: handlers dedupe."""
        ...

    def subscribe(self, name: str, codes: frozenset[str], handler: Handler) -> Unsubscribe:
        """A named, durable-by-name consumer of the given codes; messages reach it in publish order, in batches."""
        ...

    async def drain(self) -> None:
        """Wait until every published message has been handled (tests and clean shutdown)."""
        ...


class Feed(Protocol):
    """Where live-feed messages go: straight to this process's stream hub, or through a broker so that every
    API process (and so every SSE client, whichever process it is attached to) hears them."""

    def publish(self, type_: str, data: dict[str, Any], *, audience: frozenset[str] = frozenset(),
                public: bool = False) -> object: ...
