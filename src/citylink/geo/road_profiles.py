"""Who may travel a road, which way, and how fast: OSM way tags read for a car or a person on foot.

Pure functions of a way's tags. A profile answers, for one way, whether it belongs to the network, in which
directions along its digitising order it may be travelled, and at what speed. Speeds are free-flow: the
posted limit where the way has a readable ``maxspeed``, else a default for its road class; live traffic
(congestion, closures) is applied later, per edge, by the router.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

MPH_KMH = 1.609344
KNOT_KMH = 1.852
_MAX_SPEED_KMH = 200.0  # anything above is a tagging error, not a road

# Default car speed per road class (km/h) where a way has no readable maxspeed: typical urban limits.
CAR_SPEED_KMH: Mapping[str, float] = {
    "motorway": 100.0, "motorway_link": 60.0, "trunk": 80.0, "trunk_link": 50.0,
    "primary": 60.0, "primary_link": 40.0, "secondary": 50.0, "secondary_link": 40.0,
    "tertiary": 40.0, "tertiary_link": 30.0, "unclassified": 40.0, "residential": 30.0,
    "living_street": 15.0, "service": 20.0, "road": 30.0,
}

WALK_KMH = 5.0
# Walking speed per class: steps are climbed at about half pace.
FOOT_SPEED_KMH: Mapping[str, float] = {
    "footway": WALK_KMH, "pedestrian": WALK_KMH, "path": WALK_KMH, "steps": WALK_KMH / 2.0,
    "platform": WALK_KMH, "corridor": WALK_KMH, "track": WALK_KMH, "living_street": WALK_KMH,
    "residential": WALK_KMH, "service": WALK_KMH, "unclassified": WALK_KMH, "road": WALK_KMH,
    "tertiary": WALK_KMH, "tertiary_link": WALK_KMH, "secondary": WALK_KMH, "secondary_link": WALK_KMH,
    "primary": WALK_KMH, "primary_link": WALK_KMH,
}
# Walkable only when the way says so (foot=yes/designated/permissive): cycle tracks, fast roads.
_FOOT_IF_SIGNED = frozenset({"cycleway", "trunk", "trunk_link", "bridleway"})

# "CC:zone" maxspeed values (implicit limits). Where a country's value differs from the common one it is
# listed by its full code; otherwise the zone alone decides.
_ZONE_KMH: Mapping[str, float] = {
    "urban": 50.0, "rural": 80.0, "motorway": 120.0, "trunk": 100.0, "living_street": 20.0, "walk": 7.0,
    "school": 30.0, "zone30": 30.0, "zone20": 20.0, "bicycle_road": 30.0,
}
_COUNTRY_ZONE_KMH: Mapping[str, float] = {
    "DE:rural": 100.0, "AT:rural": 100.0, "DE:motorway": 130.0, "RU:urban": 60.0, "RU:rural": 90.0,
    "UY:urban": 45.0, "UY:rural": 90.0, "KR:motorway": 100.0, "GB:nsl_single": 60.0 * MPH_KMH,
    "GB:nsl_dual": 70.0 * MPH_KMH, "GB:motorway": 70.0 * MPH_KMH, "US:urban": 25.0 * MPH_KMH,
}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")

# Values of access-type keys under which ordinary traffic may use a way.
_ALLOWED = frozenset({"yes", "permissive", "destination", "designated", "customers", "delivery"})
# Service roads that are not through routes for traffic (they would draw routes through car parks).
_CAR_EXCLUDED_SERVICE = frozenset({"parking_aisle", "driveway", "private", "emergency_access"})


class Profile(StrEnum):
    CAR = "car"
    FOOT = "foot"


@dataclass(frozen=True, slots=True)
class WayRules:
    """How one profile may use one way: the directions along its node order, and the speed."""

    road_class: str
    forward: bool
    backward: bool
    speed_kmh: float


def parse_maxspeed_kmh(value: str | None) -> float | None:
    """A maxspeed tag in km/h: "50", "30 mph", "FI:urban", "50;30" (the lowest); None when unreadable."""
    if value is None:
        return None
    speeds = [s for s in (_one_maxspeed_kmh(part) for part in value.split(";")) if s is not None]
    return min(speeds) if speeds else None


def _one_maxspeed_kmh(value: str) -> float | None:
    value = value.strip()
    match = _NUMBER.match(value)
    if match:
        speed = float(match.group(1))
        unit = match.group(2)
        if unit == "mph":
            speed *= MPH_KMH
        elif unit == "knots":
            speed *= KNOT_KMH
        return speed if 0.0 < speed <= _MAX_SPEED_KMH else None
    if value == "walk":
        return _ZONE_KMH["walk"]
    if ":" in value:
        country_zone = value.split(":", 1)
        full = f"{country_zone[0].upper()}:{country_zone[1].lower()}"
        return _COUNTRY_ZONE_KMH.get(full, _ZONE_KMH.get(country_zone[1].lower()))
    return None  # "none", "signals", "variable": the class default is the better guess


def _access_allows(tags: Mapping[str, str], keys: tuple[str, ...]) -> bool:
    """The most specific of keys that is present decides; no key at all means allowed."""
    for key in keys:
        value = tags.get(key)
        if value is not None:
            return value in _ALLOWED
    return True


def _car_directions(tags: Mapping[str, str]) -> tuple[bool, bool] | None:
    """(forward, backward) for a car, or None for a way whose direction changes with time."""
    oneway = tags.get("oneway")
    if oneway in ("yes", "true", "1"):
        return True, False
    if oneway in ("-1", "reverse"):
        return False, True
    if oneway in ("no", "false", "0"):
        return True, True
    if oneway in ("reversible", "alternating"):
        return None
    # One-way by implication (OSM wiki): roundabouts and motorways, unless tagged otherwise above.
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in ("motorway", "motorway_link"):
        return True, False
    return True, True


def car_rules(tags: Mapping[str, str]) -> WayRules | None:
    highway = tags.get("highway")
    if highway is None or highway not in CAR_SPEED_KMH or tags.get("area") == "yes":
        return None
    if tags.get("service") in _CAR_EXCLUDED_SERVICE:
        return None
    if not _access_allows(tags, ("motorcar", "motor_vehicle", "vehicle", "access")):
        return None
    directions = _car_directions(tags)
    if directions is None:
        return None
    speed = parse_maxspeed_kmh(tags.get("maxspeed")) or CAR_SPEED_KMH[highway]
    return WayRules(highway, directions[0], directions[1], speed)


def foot_rules(tags: Mapping[str, str]) -> WayRules | None:
    highway = tags.get("highway")
    if highway is None:
        return None
    foot = tags.get("foot")
    signed = foot in _ALLOWED
    if highway in _FOOT_IF_SIGNED:
        if not signed:
            return None
        speed = WALK_KMH
    elif highway in FOOT_SPEED_KMH:
        if not _access_allows(tags, ("foot", "access")):
            return None
        speed = FOOT_SPEED_KMH[highway]
    else:
        return None
    # Pedestrians ignore a street's oneway; only oneway:foot binds them. A pedestrian area (area=yes) is
    # walked along its outline, which connects the paths that meet it.
    oneway_foot = tags.get("oneway:foot")
    if oneway_foot in ("yes", "true", "1"):
        return WayRules(highway, True, False, speed)
    if oneway_foot == "-1":
        return WayRules(highway, False, True, speed)
    return WayRules(highway, True, True, speed)


def way_rules(profile: Profile, tags: Mapping[str, str]) -> WayRules | None:
    """How the profile may use a way with these tags; None when the way is not part of its network."""
    return car_rules(tags) if profile is Profile.CAR else foot_rules(tags)
