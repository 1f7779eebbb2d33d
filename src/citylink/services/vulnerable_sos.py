"""WPSSF110 — vulnerable-person SOS: cameras near the latest position; police and the guardian told."""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, Notify, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView

PERSON_ITEMS = ("PERSON_REF", "PERSON_NAME")
GUARDIAN_CONTACT_ITEM = "GUARDIAN_PHONE"
SOS_KIND_ITEM = "SOS_TYPE"  # e.g. button, geofence_exit


class VulnerableSos:
    name = "vulnerable_sos"
    codes = frozenset({"WPSSF110"})

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        contact = event.item(GUARDIAN_CONTACT_ITEM)
        if incident.ended_now:
            return [Notify(recipient="guardian", message="SOS resolved", contact=contact)] if contact else []
        actions: list[Action] = []
        if incident.opened_now or incident.location_changed:
            actions += [SelectCameras(), GrantVideo(agency="police", purpose="vulnerable-person SOS")]
        if incident.opened_now:
            kind = event.item(SOS_KIND_ITEM)
            what = f"SOS ({kind})" if kind else "SOS"
            where = event.place or f"{event.location.lat:.5f}, {event.location.lon:.5f}"
            actions.append(Notify(recipient="police", message=f"Vulnerable-person {what} at {where}"))
            if contact:
                actions.append(Notify(recipient="guardian", message=f"{what} raised at {where}; police informed",
                                      contact=contact))
        return actions
