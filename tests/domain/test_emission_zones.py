"""When a low-emission zone is active, in its own time zone, overnight windows included; and the plate set the
restricted list lives in."""

from __future__ import annotations

from datetime import UTC, datetime, time

from citylink.domain.emission_zones import Schedule, local_day
from citylink.geo.plate_set import PlateSet

WEEKDAYS = Schedule(frozenset(range(5)), time(7), time(19), "Europe/Helsinki")
NIGHTS = Schedule(frozenset({4}), time(22), time(5), "Europe/Helsinki")  # Friday 22:00 to Saturday 05:00


def test_a_day_window_in_local_time() -> None:
    assert WEEKDAYS.active(datetime(2026, 11, 26, 5, 0, tzinfo=UTC))  # Thursday 07:00 in Helsinki
    assert not WEEKDAYS.active(datetime(2026, 11, 26, 4, 59, tzinfo=UTC))
    assert not WEEKDAYS.active(datetime(2026, 11, 26, 17, 0, tzinfo=UTC))  # 19:00: the end is excluded
    assert not WEEKDAYS.active(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # Saturday


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    assert NIGHTS.active(datetime(2026, 11, 27, 20, 30, tzinfo=UTC))  # Friday 22:30 local
    assert NIGHTS.active(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))  # Saturday 04:00 local
    assert not NIGHTS.active(datetime(2026, 11, 28, 3, 30, tzinfo=UTC))  # Saturday 05:30 local
    assert not NIGHTS.active(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))  # Thursday 23:00 local
    assert local_day(datetime(2026, 11, 27, 22, 30, tzinfo=UTC), "Europe/Helsinki") == "2026-11-28"


def test_the_plate_set_finds_members_only() -> None:
    members = PlateSet(f"{n:02d}가{n:04d}" for n in range(10, 100))
    assert len(members) == 90
    found = members.contains_many(["10가0010", "99가0099", "10가0011", "ZZZ999"])
    assert found.tolist() == [True, True, False, False]
    assert PlateSet().contains_many(["10가0010"]).tolist() == [False]


def test_equal_start_and_end_means_all_day() -> None:
    all_day = Schedule(frozenset({3}), time(0), time(0), "Europe/Helsinki")
    assert all_day.active(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))  # Thursday 00:00 local
    assert all_day.active(datetime(2026, 11, 26, 21, 59, tzinfo=UTC))  # Thursday 23:59 local
    assert not all_day.active(datetime(2026, 11, 26, 22, 0, tzinfo=UTC))  # Friday
