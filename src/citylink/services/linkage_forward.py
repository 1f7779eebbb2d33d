"""Every event code — linkage to partners: each configured partner (a 112 or 119 linkage server, a neighbouring
city's platform, a data hub) gets the events its rules ask for, by code, grade and area, through its outbox.

An event never goes back to a system it passed through (the trail it came with, and its sender), so two cities
linked both ways do not send an event round in circles."""

from __future__ import annotations

from collections.abc import Sequence

from citylink.domain.actions import Action, ForwardEvent
from citylink.domain.catalogue import CATALOGUE, Grade
from citylink.domain.events import Event
from citylink.domain.linkage import TRAIL_ITEM, extended, passed_through, trail_of
from citylink.services.base import IncidentView
from citylink.settings import LinkPartner


class LinkageForward:
    name = "linkage"

    def __init__(self, partners: Sequence[LinkPartner], *, city: str, system_code: str) -> None:
        self._partners = tuple(partners)
        self._us = f"{city}/{system_code}"
        self.codes = frozenset(CATALOGUE)

    def handle(self, event: Event, incident: IncidentView) -> list[Action]:
        came_through = trail_of(event.item(TRAIL_ITEM))
        trail = extended(came_through, f"{event.sender.city}/{event.sender.system}", self._us)
        return [ForwardEvent(partner=p.id, event=event, trail=trail) for p in self._partners
                if _wanted(p, event) and p.city_code != event.sender.city
                and not passed_through(came_through, p.city_code)]


def _wanted(partner: LinkPartner, event: Event) -> bool:
    if partner.codes and event.code not in partner.codes:
        return False
    if partner.urgent_only and event.grade is not Grade.URGENT:
        return False
    if partner.area is not None:
        min_lon, min_lat, max_lon, max_lat = partner.area
        return min_lon <= event.location.lon <= max_lon and min_lat <= event.location.lat <= max_lat
    return True
