"""LPRUM120 — wanted-vehicle search: a licence-plate read hit the police watch list.

Each hit is an event of the entry's incident: the first opens it, later ones move it along the vehicle's track
(the incident's event history). Every hit alerts the police; a hit at a new place selects the cameras there and
grants them to the police. The plate travels in the PLATE item (personal data, masked) and never in the alert.
"""

from __future__ import annotations

from datetime import UTC

from citylink.domain.actions import Action, GrantVideo, Notify, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView

POLICE = "police"


class WantedVehicle:
    name = "wanted_vehicle"
    codes = frozenset({"LPRUM120"})

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now:
            return []
        actions: list[Action] = []
        if incident.opened_now or incident.location_changed:
            actions += [SelectCameras(), GrantVideo(agency=POLICE, purpose="wanted-vehicle search")]
        actions.append(Notify(recipient=POLICE, message=self._alert(event, first=incident.opened_now)))
        return actions

    @staticmethod
    def _alert(event: Event, *, first: bool) -> str:
        category = event.item("WATCH_CATEGORY") or "wanted"
        heading = event.item("HEADING_DEG")
        seen = event.time.astimezone(UTC)
        parts = [f"{'Hit' if first else 'Seen again'}: {category} vehicle read by {event.place} at {seen:%H:%M:%S} UTC"]
        if heading is not None:
            parts.append(f"heading {heading}°")
        if event.item("LOW_CONFIDENCE"):
            parts.append(f"low confidence ({event.item('CONFIDENCE')})")
        if event.item("IMAGE_URL"):
            parts.append(f"image {event.item('IMAGE_URL')}")
        return "; ".join(parts)
