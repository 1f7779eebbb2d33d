"""The demo scenario: deterministic, valid, complete lifecycles, and personal data only where it belongs."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from citylink.api.schemas import EventIn
from citylink.demo import DemoConfig, load_config
from citylink.demo.scenario import SYSTEM_AGENCY, Post, Scenario
from citylink.domain.events import Status
from citylink.domain.incidents import transition
from citylink.geo.distance import haversine_m
from citylink.settings import DEFAULT_VIOLENT_CRIMES

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EVERY_CODE = {"112UC001", "112UC120", "119UC001", "DUCDP110", "WPSSF110", "MOJUC110"}
PERSONAL_KEYS = ("PERSON_REF", "GUARDIAN_PHONE", "SUBJECT_REF")


@pytest.fixture(scope="module")
def config() -> DemoConfig:
    return load_config()


def play(config: DemoConfig, *, seed: int = 7, events: int = 300) -> list[Post]:
    """`events` events 10 s apart, then the wind-down that ends what is still open."""
    scenario = Scenario(config, seed=seed)
    posts = [scenario.next(START + timedelta(seconds=10 * n)) for n in range(events)]
    return posts + scenario.wind_down(START + timedelta(seconds=10 * events))


def item(post: Post, key: str) -> str | None:
    return next((i.val for i in post.event.items if i.key == key), None)


def by_incident(posts: list[Post]) -> dict[tuple[str, str, str], list[Post]]:
    incidents: dict[tuple[str, str, str], list[Post]] = defaultdict(list)
    for post in posts:
        incidents[(post.event.sender.city, post.event.code, post.event.occurrence)].append(post)
    return incidents


def test_the_same_seed_gives_the_same_events(config: DemoConfig) -> None:
    first = [p.body() for p in play(config, seed=11, events=80)]
    assert first == [p.body() for p in play(config, seed=11, events=80)]
    assert first != [p.body() for p in play(config, seed=12, events=80)]


def test_every_body_is_a_valid_event_sent_with_its_agencys_key(config: DemoConfig) -> None:
    for post in play(config):
        body = json.loads(json.dumps(post.body()))  # what goes over the wire
        event = EventIn.model_validate(body)
        assert event == post.event
        assert post.agency == SYSTEM_AGENCY[event.sender.system]
        assert event.sender.city == "helsinki"
        assert re.fullmatch(r"\d{17}", event.occurrence)
        assert config.bbox.contains(event.location.lon, event.location.lat)


def test_all_five_codes_come_early_and_keep_coming(config: DemoConfig) -> None:
    posts = play(config, events=200)
    assert {p.event.code for p in posts[:8]} == EVERY_CODE  # even a short demo shows every service
    assert {p.event.code for p in posts[100:200]} == EVERY_CODE


def test_times_strictly_increase_even_when_asked_for_the_same_instant(config: DemoConfig) -> None:
    scenario = Scenario(config, seed=7)
    times = [scenario.next(START).event.time for _ in range(20)]
    assert all(a < b for a, b in itertools.pairwise(times))


def test_every_incident_opens_then_ends_and_the_platform_accepts_each_step(config: DemoConfig) -> None:
    for (_, code, _), posts in by_incident(play(config)).items():
        statuses = [p.event.status for p in posts]
        assert statuses[0] is Status.OCCURRED
        assert statuses[-1] is (Status.CLEARED if code == "WPSSF110" else Status.ENDED)
        assert all(s is Status.CHANGED for s in statuses[1:-1])
        current = None
        for status in statuses:  # the incident lifecycle refuses nothing the scenario sends
            transition(current, status)
            current = status


def test_incidents_end_on_their_own_without_the_wind_down(config: DemoConfig) -> None:
    scenario = Scenario(config, seed=7)
    posts = [scenario.next(START + timedelta(seconds=10 * n)) for n in range(300)]
    opened = sum(p.event.status is Status.OCCURRED for p in posts)
    ended = sum(p.event.status.ends_incident for p in posts)
    assert opened > 50
    assert ended == opened - scenario.open_count
    assert scenario.open_count < 12  # about max_open: openings wait while that many are running


def test_a_dispatch_reuses_an_open_reports_occurrence_and_city(config: DemoConfig) -> None:
    posts = play(config)
    units = {u.id for u in config.units_of("police")}
    open_reports: set[tuple[str, str]] = set()
    dispatches = 0
    for post in posts:
        event = post.event
        key = (event.sender.city, event.occurrence)
        if event.code == "112UC001" and event.status is Status.OCCURRED:
            open_reports.add(key)
        elif event.code == "112UC001" and event.status.ends_incident:
            open_reports.discard(key)
        if event.code == "112UC120" and event.status is Status.OCCURRED:
            dispatches += 1
            assert key in open_reports, "a dispatch follows a 112 report that is still open"
            sent = [i.val for i in event.items if i.key == "UNIT"]
            assert sent and set(sent) <= units
            assert item(post, "IMAGE_URL")
            assert event.sender.system == "112" and post.agency == "police"
    assert dispatches >= 5


def test_crime_types_are_mostly_violent_and_sometimes_not(config: DemoConfig) -> None:
    reports = [p for p in play(config, events=600) if p.event.code == "112UC001" and p.event.status == "10"]
    types = [item(p, "CRIME_TYPE") for p in reports]
    violent = [t for t in types if t in DEFAULT_VIOLENT_CRIMES]
    assert len(violent) > len(types) / 2
    assert any(t not in DEFAULT_VIOLENT_CRIMES for t in types)


def test_disasters_have_a_radius_or_an_area(config: DemoConfig) -> None:
    opened = [p.event for p in play(config) if p.event.code == "DUCDP110" and p.event.status == "10"]
    assert any(e.radius_m for e in opened) and any(e.area for e in opened)
    assert all((e.radius_m is None) != (e.area is None) for e in opened)


def test_a_vulnerable_person_moves_a_few_tens_of_metres_per_update(config: DemoConfig) -> None:
    moves = []
    for (_, code, _), posts in by_incident(play(config)).items():
        if code == "WPSSF110":
            spots = [(p.event.location.lon, p.event.location.lat) for p in posts if p.event.status == "40"]
            spots.insert(0, (posts[0].event.location.lon, posts[0].event.location.lat))
            moves += [haversine_m(*a, *b) for a, b in itertools.pairwise(spots)]
    assert moves
    assert all(m <= 61 for m in moves)
    assert sum(m >= 10 for m in moves) > len(moves) / 2  # the bbox edge can shorten a step


def test_personal_data_is_only_in_items_and_obviously_fake(config: DemoConfig) -> None:
    sos = [p for p in play(config) if p.event.code == "WPSSF110"]
    assert sos
    for post in sos:
        phone, person = item(post, "GUARDIAN_PHONE"), item(post, "PERSON_REF")
        assert phone and re.fullmatch(r"\+358 40 000 0\d{3}", phone)
        assert person and person.startswith("demo-person-")
        outside_items = json.dumps({k: v for k, v in post.body().items() if k != "items"})
        for secret in (phone, person):
            assert secret not in outside_items
            assert secret not in post.summary


def test_anklet_reports_carry_a_trigger_first_and_positions_after(config: DemoConfig) -> None:
    anklet = [p for p in play(config, events=1500) if p.event.code == "MOJUC110"]
    assert {p.event.status for p in anklet} >= {Status.OCCURRED, Status.CHANGED}
    for post in anklet:
        subject = item(post, "SUBJECT_REF")
        assert subject and subject.startswith("demo-subject-") and subject not in post.summary
        # The tracking centre names the trigger when it opens; a position update carries none.
        assert (item(post, "TRIGGER") is not None) == (post.event.status is Status.OCCURRED)
    triggers = {item(p, "TRIGGER") for p in anklet if p.event.status is Status.OCCURRED}
    assert "battery_low" in triggers and len(triggers) > 2  # refused ones too, not only the lawful
