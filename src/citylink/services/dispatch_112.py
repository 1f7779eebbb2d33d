"""112UC120 — 112 dispatch support: scene and suspect stills, and the same cameras for the patrol units sent."""

from __future__ import annotations

from citylink.domain.actions import Action, AttachMedia, GrantVideo, SelectCameras
from citylink.domain.events import Event, incident_key
from citylink.services.base import IncidentView

SCENE_ITEMS = ("IMAGE_URL", "SCENE_IMAGE_URL")
SUSPECT_ITEMS = ("SUSPECT_IMAGE_URL",)
UNIT_ITEM = "UNIT"


class Dispatch112:
    name = "dispatch_112"
    codes = frozenset({"112UC120"})

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now:
            return []
        actions: list[Action] = []
        for item in event.items:
            if item.key in SCENE_ITEMS:
                actions.append(AttachMedia(kind="scene_snapshot", url=item.val))
            elif item.key in SUSPECT_ITEMS:
                actions.append(AttachMedia(kind="suspect_still", url=item.val))
        units = [item.val.strip() for item in event.items if item.key == UNIT_ITEM and item.val.strip()]
        if incident.opened_now or incident.location_changed or units:
            # The dispatch order refers to the 112 report with the same occurrence number; its patrol cars
            # should watch exactly what the situation room watches.
            report = incident_key(event.sender.city, "112UC001", event.occurrence)
            actions.append(SelectCameras(same_as_incident=report))
            actions.append(GrantVideo(agency="police", purpose="112 dispatch support"))
            actions.extend(GrantVideo(agency=f"police/{unit}", purpose="112 dispatch support") for unit in units)
        return actions
