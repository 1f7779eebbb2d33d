"""Alarm levels with hysteresis and minimum durations: what a run of readings does to a sensor's level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from citylink.domain.catalogue import Grade
from citylink.domain.environment import Level, Measure, MeasureState, step

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PM10 = Measure(name="pm10", label="PM10", unit="µg/m³", code="APLEN110", levels=(
    Level(name="advisory", grade=Grade.NORMAL, raise_at=150, clear_below=100, raise_after_s=600, clear_after_s=300),
    Level(name="warning", grade=Grade.URGENT, raise_at=300, clear_below=150, raise_after_s=600, clear_after_s=300)))


def _run(values: list[float], *, every_s: int = 60, state: MeasureState | None = None) -> list[int]:
    """The confirmed level after each reading, one every every_s seconds."""
    state = state or MeasureState()
    levels = []
    for i, value in enumerate(values):
        state = step(PM10, state, value, T0 + timedelta(seconds=i * every_s))
        levels.append(state.level)
    return levels


def test_a_level_is_raised_only_once_the_value_has_held_for_its_wait() -> None:
    assert _run([160] * 11) == [0] * 10 + [1]  # 600 s after the first reading above 150
    assert _run([160] * 5 + [140] + [160] * 11)[-1] == 1 and _run([160] * 5 + [140] + [160] * 10)[-1] == 0


def test_between_the_two_thresholds_the_level_holds_either_way() -> None:
    raised = _run([160] * 11)
    assert _run([120] * 30, state=MeasureState(level=1)) == [1] * 30  # under 150 but not under 100
    assert raised[-1] == 1 and _run([120] * 30) == [0] * 30  # and 120 never raises


def test_falling_below_the_clear_value_lowers_after_its_own_wait_and_a_jump_skips_levels() -> None:
    assert _run([90] * 6, state=MeasureState(level=1)) == [1] * 5 + [0]
    assert _run([400] * 11) == [0] * 10 + [2]  # straight to the warning
    assert _run([90] * 6, state=MeasureState(level=2)) == [2] * 5 + [0]  # and straight down again
    assert _run([120] * 6, state=MeasureState(level=2)) == [2] * 5 + [1]  # under 150: down to the advisory


def test_levels_must_leave_a_gap_and_come_in_order() -> None:
    with pytest.raises(ValidationError, match=r"clear_below .* is above raise_at"):
        Level(name="advisory", grade=Grade.NORMAL, raise_at=100, clear_below=120)
    with pytest.raises(ValidationError, match="lowest first"):
        Measure(name="pm10", label="PM10", unit="µg/m³", code="APLEN110", levels=tuple(reversed(PM10.levels)))
