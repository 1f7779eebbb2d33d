"""Emergency facilities a unit is sent from: fire stations, police stations and hospitals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FacilityKind(StrEnum):
    FIRE = "fire"
    POLICE = "police"
    HOSPITAL = "hospital"


@dataclass(frozen=True, slots=True)
class Facility:
    id: str  # osm:n<id> or osm:w<id>
    kind: FacilityKind
    name: str
    lon: float
    lat: float
