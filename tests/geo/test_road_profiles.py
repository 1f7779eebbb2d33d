"""Reading OSM way tags for cars and pedestrians: speeds, directions, access."""

from __future__ import annotations

import pytest

from citylink.geo.road_profiles import (
    CAR_SPEED_KMH,
    MPH_KMH,
    WALK_KMH,
    Profile,
    WayRules,
    car_rules,
    foot_rules,
    parse_maxspeed_kmh,
    way_rules,
)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("30 mph", 30 * MPH_KMH),
        ("40 km/h", 40.0),
        ("FI:urban", 50.0),
        ("FI:rural", 80.0),
        ("DE:rural", 100.0),
        ("fi:living_street", 20.0),
        ("UY:urban", 45.0),
        ("50;30", 30.0),
        ("walk", 7.0),
        ("none", None),
        ("signals", None),
        ("fast", None),
        ("0", None),
        ("900", None),
        (None, None),
    ],
)
def test_maxspeed(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed_kmh(value) == (pytest.approx(kmh) if kmh is not None else None)


def car(tags: dict[str, str]) -> WayRules:
    rules = car_rules(tags)
    assert rules is not None
    return rules


def test_speed_from_maxspeed_else_class() -> None:
    assert car({"highway": "residential", "maxspeed": "40"}).speed_kmh == 40.0
    assert car({"highway": "primary", "maxspeed": "variable"}).speed_kmh == CAR_SPEED_KMH["primary"]
    assert car({"highway": "service"}).speed_kmh == CAR_SPEED_KMH["service"]


@pytest.mark.parametrize(
    ("tags", "directions"),
    [
        ({"highway": "residential"}, (True, True)),
        ({"highway": "residential", "oneway": "yes"}, (True, False)),
        ({"highway": "residential", "oneway": "true"}, (True, False)),
        ({"highway": "residential", "oneway": "1"}, (True, False)),
        ({"highway": "residential", "oneway": "-1"}, (False, True)),
        ({"highway": "primary", "junction": "roundabout"}, (True, False)),
        ({"highway": "primary", "junction": "roundabout", "oneway": "no"}, (True, True)),
        ({"highway": "motorway"}, (True, False)),
        ({"highway": "motorway_link"}, (True, False)),
        ({"highway": "motorway", "oneway": "no"}, (True, True)),
    ],
)
def test_car_directions(tags: dict[str, str], directions: tuple[bool, bool]) -> None:
    rules = car(tags)
    assert (rules.forward, rules.backward) == directions


@pytest.mark.parametrize(
    "tags",
    [
        {"highway": "footway"},
        {"highway": "residential", "access": "private"},
        {"highway": "residential", "motor_vehicle": "no"},
        {"highway": "residential", "access": "no", "motor_vehicle": "no"},
        {"highway": "service", "service": "parking_aisle"},
        {"highway": "residential", "oneway": "reversible"},
        {"highway": "pedestrian", "area": "yes"},
        {"building": "yes"},
    ],
)
def test_not_for_cars(tags: dict[str, str]) -> None:
    assert car_rules(tags) is None


def test_most_specific_access_wins() -> None:
    assert car_rules({"highway": "residential", "access": "no", "motor_vehicle": "destination"}) is not None
    assert car_rules({"highway": "residential", "access": "yes", "motorcar": "no"}) is None


def test_pedestrians_ignore_oneway_and_walk() -> None:
    rules = foot_rules({"highway": "secondary", "oneway": "yes"})
    assert rules is not None
    assert (rules.forward, rules.backward, rules.speed_kmh) == (True, True, WALK_KMH)
    steps = foot_rules({"highway": "steps"})
    assert steps is not None and steps.speed_kmh < WALK_KMH
    restricted = foot_rules({"highway": "footway", "oneway:foot": "yes"})
    assert restricted is not None and (restricted.forward, restricted.backward) == (True, False)


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "pedestrian", "area": "yes"}, True),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "residential", "access": "private", "foot": "yes"}, True),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"highway": "motorway"}, False),
    ],
)
def test_foot_network(tags: dict[str, str], walkable: bool) -> None:
    assert (way_rules(Profile.FOOT, tags) is not None) is walkable
