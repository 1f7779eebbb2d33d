"""Safe return home: a walk someone registered, watched until they arrive. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

ARRIVAL_RADIUS_M = 50.0  # within this of the destination the walk is over


class TripState(StrEnum):
    ACTIVE = "active"  # walking, nothing wrong
    ALERTED = "alerted"  # SOS, off the corridor or overdue: the centre and the guardian were alerted
    ARRIVED = "arrived"
    CANCELLED = "cancelled"

    @property
    def watched(self) -> bool:
        return self in (TripState.ACTIVE, TripState.ALERTED)


class TripAlert(StrEnum):
    SOS = "sos"
    DEVIATION = "deviation"  # farther from the expected route than the corridor allows
    OVERDUE = "overdue"  # not arrived by the expected time plus the grace period


@dataclass(frozen=True, slots=True)
class Trip:
    id: str
    city: str
    person_ref: str  # the walker's reference in the app's system: personal data
    guardian_contact: str  # personal data: for delivery only
    origin: tuple[float, float]
    destination: tuple[float, float]
    path: tuple[tuple[float, float], ...]  # the expected route (walking, or straight without a road network)
    expected_arrival: datetime
    grace_s: float
    corridor_m: float
    state: TripState

    @property
    def due_at(self) -> datetime:
        """When an active trip not yet arrived becomes overdue."""
        return self.expected_arrival + timedelta(seconds=self.grace_s)


def position_verdict(trip: Trip, *, from_destination_m: float, off_route_m: float) -> TripAlert | TripState | None:
    """What a position means for a watched trip: arrived, off the corridor, or nothing to act on."""
    if from_destination_m <= ARRIVAL_RADIUS_M:
        return TripState.ARRIVED
    if trip.state is TripState.ACTIVE and off_route_m > trip.corridor_m:
        return TripAlert.DEVIATION
    return None
