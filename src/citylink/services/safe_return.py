"""POCCP103 — safe return home: a walker's SOS, a deviation from the expected route, or an overdue arrival.

The alert selects the cameras near the walker's last position and shares them with the centre, and tells the
centre (who can ask the police for an escort) and the guardian. Later positions move the cameras; arrival ends
the incident and tells the guardian. The guardian's phone travels in GUARDIAN_PHONE (personal data, for
delivery only); the walker is named by reference only.
"""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, Notify, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView

CENTRE = "centre"
ALERTS = {"sos": "SOS pressed", "deviation": "left the expected route", "overdue": "not arrived on time"}


class SafeReturnHome:
    name = "safe_return"
    codes = frozenset({"POCCP103"})

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        contact = event.item("GUARDIAN_PHONE")
        if incident.ended_now:
            return [Notify(recipient="guardian", message="Arrived safely; the alert is closed", contact=contact)
                    ] if contact else []
        actions: list[Action] = []
        if incident.opened_now or incident.location_changed:
            actions += [SelectCameras(), GrantVideo(agency=CENTRE, purpose="safe return home")]
        alert = event.item("ALERT")
        if alert is not None:
            what = ALERTS.get(alert, alert)
            where = f"{event.location.lat:.5f}, {event.location.lon:.5f}"
            actions.append(Notify(recipient=CENTRE, message=f"Safe return home: {what} at {where}; "
                                  "cameras selected; a police escort can be requested"))
            if contact:
                actions.append(Notify(recipient="guardian", contact=contact,
                                      message=f"Safe return home: {what}; the city operations centre is watching"))
        return actions
