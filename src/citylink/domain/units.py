"""Mobile units (fire engines, ambulances, patrol cars): where they are and whether they can be sent. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from citylink.domain.facilities import FacilityKind


class UnitKind(StrEnum):
    FIRE_ENGINE = "fire_engine"
    AMBULANCE = "ambulance"
    PATROL_CAR = "patrol_car"

    @property
    def service(self) -> FacilityKind:
        """The dispatch plan a unit of this kind takes part in: 119 sends fire engines and ambulances (Korea's
        ambulances belong to the fire service), 112 patrol cars; hospitals are destinations, not units."""
        return FacilityKind.POLICE if self is UnitKind.PATROL_CAR else FacilityKind.FIRE


class UnitState(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"  # on the way to an incident
    BUSY = "busy"  # at a scene, or otherwise occupied
    OFF_DUTY = "off_duty"


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    kind: UnitKind
    name: str
    agency: str  # the agency that owns it and may move it
    state: UnitState
    lon: float | None
    lat: float | None
    position_at: datetime | None  # when the position was measured
    incident_id: str | None  # the incident it is dispatched to or busy at


@dataclass(frozen=True, slots=True)
class UnitReport:
    """What a unit's tracker says: where it is, what it is doing, or both."""

    unit_id: str
    time: datetime
    lon: float | None
    lat: float | None
    state: UnitState | None


@dataclass(frozen=True, slots=True)
class Dispatchable:
    """The units a dispatch plan may rank, and those left out because their last position is too old."""

    units: tuple[Unit, ...]
    stale: tuple[Unit, ...]


def dispatchable(units: Iterable[Unit], kind: FacilityKind, *, now: datetime, max_age_s: float) -> Dispatchable:
    """Available units of the plan's service with a known position; a position older than max_age_s is stale
    (a unit whose tracker stopped reporting may be anywhere), so the unit is not ranked but named."""
    ready: list[Unit] = []
    stale: list[Unit] = []
    for unit in units:
        if unit.kind.service is not kind or unit.state is not UnitState.AVAILABLE:
            continue
        if unit.lon is None or unit.lat is None or unit.position_at is None:
            continue
        fresh = (now - unit.position_at).total_seconds() <= max_age_s
        (ready if fresh else stale).append(unit)
    return Dispatchable(tuple(ready), tuple(stale))
