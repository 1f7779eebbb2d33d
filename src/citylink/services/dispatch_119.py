"""119UC001 — 119 dispatch support: video of the scene for the fire and ambulance service."""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView


class Dispatch119:
    name = "dispatch_119"
    codes = frozenset({"119UC001"})

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now or not (incident.opened_now or incident.location_changed):
            return []
        return [SelectCameras(), GrantVideo(agency="fire", purpose="119 dispatch support")]
