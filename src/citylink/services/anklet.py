"""MOJUC110 — electronic-anklet linkage: video to the justice ministry's tracking centre, only when the law allows.

The lawful triggers (device damage, curfew breach, entry into a banned zone, approach to a protected person by
default) are configuration (settings.services.anklet_triggers). An event with one of them selects the cameras
near the wearer's latest position and grants them to the ministry; any other trigger is refused, and the refusal
audited. Position updates (status 40 without a trigger) move the cameras only while a lawful grant is live: a
refused incident gets no cameras at all.
"""

from __future__ import annotations

from citylink.domain.actions import Action, GrantVideo, RefuseVideo, SelectCameras
from citylink.domain.events import Event
from citylink.services.base import IncidentView

TRIGGER_ITEM = "TRIGGER"


class AnkletLinkage:
    name = "anklet"
    codes = frozenset({"MOJUC110"})

    def __init__(self, *, lawful_triggers: tuple[str, ...], agency: str) -> None:
        self._lawful = frozenset(t.casefold() for t in lawful_triggers)
        self._listed = ", ".join(lawful_triggers)
        self._agency = agency

    @staticmethod
    def trigger(event: Event) -> str | None:
        value = event.item(TRIGGER_ITEM) or (event.detail.code if event.detail else "")
        return value or None

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        if incident.ended_now:
            return []
        trigger = self.trigger(event)
        if trigger is None:
            if incident.location_changed:  # the wearer moved: the cameras follow, if video is allowed at all
                return [SelectCameras(only_if_granted_to=self._agency),
                        GrantVideo(agency=self._agency, purpose="anklet linkage", renew_only=True)]
            if incident.opened_now:
                return [RefuseVideo(agency=self._agency, reason=f"no trigger given; video only for: {self._listed}")]
            return []
        if trigger.casefold() not in self._lawful:
            return [RefuseVideo(agency=self._agency,
                                reason=f"trigger {trigger!r} is not lawful for video; only: {self._listed}")]
        return [SelectCameras(), GrantVideo(agency=self._agency, purpose=f"anklet linkage: {trigger}")]
