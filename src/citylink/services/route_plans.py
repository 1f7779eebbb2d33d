"""Routing plans for 119 calls and 112 reports: who gets to a fire first by road, and where a suspect can be.

A service of its own rather than a step of the 119 and 112 video services: a plan is milliseconds of CPU, and
the grant of the scene's cameras must not wait for it. When no road network is configured the platform drops
these actions and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable

from citylink.domain.actions import Action, PlanCordon, PlanDispatch
from citylink.domain.events import Event
from citylink.services.base import IncidentView

DISPATCH_CODES = frozenset({"119UC001"})  # fire, rescue and ambulance calls
# Police reports, dispatch orders, and a wanted vehicle just read by an LPR camera (where it can be next).
CORDON_CODES = frozenset({"112UC001", "112UC120", "LPRUM120"})


class RoutePlans:
    name = "route_plans"
    codes = DISPATCH_CODES | CORDON_CODES

    def __init__(self, *, report_needs_cordon: Callable[[Event], bool]) -> None:
        # The same rule as the 112 video service: a cordon for a violent crime, not for a noise complaint.
        self._report_needs_cordon = report_needs_cordon

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        # Plans follow the scene: made when the incident opens, made again when a sighting or an update moves it.
        if incident.ended_now or not (incident.opened_now or incident.location_changed):
            return []
        if event.code in DISPATCH_CODES:
            return [PlanDispatch(service="fire", recipient="fire")]
        if event.code == "112UC001" and not self._report_needs_cordon(event):
            return []
        return [PlanCordon()]
