"""The shape every linked service has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from citylink.domain.actions import Action
from citylink.domain.events import Event


@dataclass(frozen=True, slots=True)
class IncidentView:
    """What a service may know of the incident an event belongs to."""

    id: str
    key: str
    opened_now: bool  # this event opened the incident
    ended_now: bool  # this event ended it
    location_changed: bool  # the event moved the incident


class Service(Protocol):
    name: str
    codes: frozenset[str]

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        """The actions this event calls for. Pure: no I/O, same answer for the same input."""
        ...
