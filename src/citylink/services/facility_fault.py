"""MTSUC210–MTSUC250 — facility events (a sensor gone silent, a broken emergency bell): whoever maintains the
facility is told when it fails and when it is back."""

from __future__ import annotations

from citylink.domain.actions import Action, Notify
from citylink.domain.events import Event
from citylink.services.base import IncidentView

MAINTAINER_ITEM = "MAINTAINER"


class FacilityFault:
    name = "facility_fault"
    codes = frozenset({"MTSUC210", "MTSUC220", "MTSUC230", "MTSUC240", "MTSUC250"})

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        recipient = event.item(MAINTAINER_ITEM) or "centre"
        where = event.place or f"{event.location.lat:.5f}, {event.location.lon:.5f}"
        if incident.ended_now:
            return [Notify(recipient=recipient, message=f"Facility back in service: {where}")]
        if incident.opened_now:
            return [Notify(recipient=recipient, message=f"Facility fault at {where}: {event.content or event.name}")]
        return []
