"""112UC001 — 112 emergency video: cameras that see a reported violent crime, live to the police."""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView

CRIME_TYPE_ITEM = "CRIME_TYPE"


class EmergencyVideo112:
    name = "emergency_video_112"
    codes = frozenset({"112UC001"})

    def __init__(self, *, violent_crimes: tuple[str, ...]) -> None:
        self._eligible = frozenset(c.casefold() for c in violent_crimes)

    def crime_type(self, event: Event) -> str | None:
        value = event.item(CRIME_TYPE_ITEM) or (event.detail.code if event.detail else "")
        return value or None

    def eligible(self, event: Event) -> bool:
        """A violent crime, or a report that does not say what the crime is."""
        crime = self.crime_type(event)
        return crime is None or crime.casefold() in self._eligible

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now or not self.eligible(event):
            return []
        if not (incident.opened_now or incident.location_changed):
            return []
        return [SelectCameras(), GrantVideo(agency="police", purpose="112 emergency video")]
