"""What a linked service asks the platform to do. Services return these; the platform carries them out."""

from __future__ import annotations

from dataclasses import dataclass

from citylink.domain.events import Event


@dataclass(frozen=True, slots=True)
class SelectCameras:
    """Pick the cameras that see the incident's latest position."""

    radius_m: float | None = None  # None: the configured default
    k: int | None = None
    same_as_incident: str | None = None  # an incident key whose selection to reuse, when it exists
    only_if_granted_to: str | None = None  # select only while this agency holds a live grant of the incident


@dataclass(frozen=True, slots=True)
class SelectInArea:
    """Pick every online camera inside the incident's area, ranked by how much of it they cover.

    The area is the incident's polygon, else a circle of its radius, else of default_radius_m.
    """

    default_radius_m: float


@dataclass(frozen=True, slots=True)
class GrantVideo:
    """Give an agency live video of the incident's selected cameras until the incident ends."""

    agency: str
    purpose: str
    renew_only: bool = False  # only bring an existing live grant up to date; never grant afresh


@dataclass(frozen=True, slots=True)
class RefuseVideo:
    """Record that an agency asked for video it may not have, and why: an audited denial."""

    agency: str
    reason: str


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell someone. contact is personal data (a guardian's phone): stored for delivery, never logged."""

    recipient: str  # an agency id, or "guardian"
    message: str
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class AttachMedia:
    """Keep a picture with the incident: a scene snapshot or a suspect still."""

    kind: str
    url: str


@dataclass(frozen=True, slots=True)
class EditCameras:
    """An operator adds cameras to, or removes them from, an incident's selection."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """An operator has seen the incident and is on it."""


@dataclass(frozen=True, slots=True)
class PlanDispatch:
    """Rank the stations and available units of a service by road ETA to the incident's latest position, with
    routes, the cameras and signals on them, and the hydrants and hazards at the scene; tell that service."""

    service: str  # fire, police or hospital (domain.facilities.FacilityKind)
    recipient: str  # the agency told of the fastest
    k: int = 3


@dataclass(frozen=True, slots=True)
class PlanCordon:
    """Where someone fleeing the incident's latest position can be within minutes, and the cameras on the exits."""

    minutes: float = 3.0
    mode: str = "car"  # car or foot (geo.road_profiles.Profile)


@dataclass(frozen=True, slots=True)
class ForwardEvent:
    """Send the event on to a linkage partner (a 112 or 119 linkage server, a neighbouring city's platform)."""

    partner: str
    event: Event
    trail: tuple[str, ...]  # the systems it passed through, citylink last: the partner's loop check


Action = (SelectCameras | SelectInArea | GrantVideo | RefuseVideo | Notify | AttachMedia | EditCameras | Acknowledge
          | PlanDispatch | PlanCordon | ForwardEvent)
