"""The incident: the lifecycle of one occurrence, keyed by sender city + code + occurrence number."""

from __future__ import annotations

from dataclasses import dataclass

from citylink.domain.events import Status


class LifecycleError(ValueError):
    """An event that the incident's lifecycle cannot accept (e.g. a status going backwards)."""


@dataclass(frozen=True, slots=True)
class Transition:
    opens: bool
    ends: bool


def transition(current: Status | None, incoming: Status) -> Transition:
    """Which lifecycle step an incoming status makes, or LifecycleError when it is not allowed.

    An update (40) for an incident we have not seen opens it: a sender's 10 may have been lost upstream,
    and dropping the update would lose the event. An end for an unknown incident is refused, since there
    is nothing to end.
    """
    if current is None:
        if incoming.ends_incident:
            raise LifecycleError(f"status {incoming.value} ({incoming.label}) for an incident that was never opened")
        return Transition(opens=True, ends=False)
    if current.ends_incident:
        raise LifecycleError(f"incident already {current.label}; status {incoming.value} is not accepted")
    if incoming is Status.OCCURRED:
        raise LifecycleError(f"status 10 (occurred) after {current.value} ({current.label}) goes backwards")
    return Transition(opens=False, ends=incoming.ends_incident)
