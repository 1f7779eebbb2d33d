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


class HazardKind(StrEnum):
    """What a fire crew wants to know is near the scene: water, and what burns or explodes."""

    FIRE_HYDRANT = "fire_hydrant"
    WATER_SOURCE = "water_source"  # a suction point, water tank or fire pond
    FUEL_STATION = "fuel_station"
    STORAGE_TANK = "storage_tank"
    GAS_HOLDER = "gas_holder"


@dataclass(frozen=True, slots=True)
class SceneFeature:
    id: str
    kind: HazardKind
    name: str
    lon: float
    lat: float
