"""Wide-area linkage: the trail of systems an event passed through, which keeps linked platforms from sending
an event round in circles. Pure."""

from __future__ import annotations

from collections.abc import Iterable

TRAIL_ITEM = "LINK_TRAIL"  # the hops an event came through, kept with it as an item: "<city>/<system>,…"


def passed_through(trail: Iterable[str], city: str) -> bool:
    return any(hop == city or hop.startswith(f"{city}/") for hop in trail)


def trail_of(item: str | None) -> tuple[str, ...]:
    return tuple(hop for hop in (item or "").split(",") if hop)


def extended(trail: Iterable[str], *hops: str) -> tuple[str, ...]:
    """The trail with the hops added at the end, each once."""
    return tuple(dict.fromkeys([*trail, *(h for h in hops if h.strip("/"))]))
