"""APLEN110, WESEN110 — air-quality and weather alarms: cameras near the worst sensor, shared with the disaster
room, which is told when the alarm opens, changes level and is lifted."""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, Notify, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView


class EnvironmentAlarm:
    name = "environment"
    codes = frozenset({"APLEN110", "WESEN110"})

    def __init__(self, *, agency: str) -> None:
        self._agency = agency

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now:
            return [Notify(recipient=self._agency, message=f"Lifted: {event.content or event.name}")]
        actions: list[Action] = []
        if incident.opened_now or incident.location_changed:
            actions += [SelectCameras(), GrantVideo(agency=self._agency, purpose="environment alarm")]
        # Alarms citylink raises itself say their level; one from another system is told once, on opening.
        if incident.opened_now or event.item("LEVEL") != event.item("PREVIOUS_LEVEL"):
            actions.append(Notify(recipient=self._agency, message=event.content or event.name))
        return actions
