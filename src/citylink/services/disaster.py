"""DUCDP110 — disaster response: every camera inside the affected area, shared with the disaster room."""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, SelectInArea
from citylink.domain.events import Event
from citylink.services.base import IncidentView


class Disaster:
    name = "disaster"
    codes = frozenset({"DUCDP110"})

    def __init__(self, *, default_radius_m: float) -> None:
        self._default_radius_m = default_radius_m

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now:
            return []
        reshaped = event.area is not None or event.radius_m is not None
        if not (incident.opened_now or incident.location_changed or reshaped):
            return []
        return [SelectInArea(default_radius_m=self._default_radius_m),
                GrantVideo(agency="disaster", purpose="disaster response")]
