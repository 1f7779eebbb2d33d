"""Environment sensors: alarm levels per measure with hysteresis and a minimum duration. Pure.

A measure (PM2.5, ozone, rainfall…) has levels, each raised when a sensor's value stays at or above its
``raise_at`` for ``raise_after_s`` and lowered when it stays below ``clear_below`` for ``clear_after_s``. The
gap between the two values and the two waits keep a value wavering around a threshold from flapping the alarm.
The defaults are Korea's air-pollution alert rules (대기오염경보, Clean Air Conservation Act, Enforcement Rule
table 7) and the KMA's advisory criteria; docs/decisions.md says where citylink chose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citylink.domain.catalogue import Grade


class Level(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z_]{0,31}$", description="e.g. advisory, warning")
    grade: Grade = Field(description="the event grade of an alarm at this level: 10 urgent, 20 normal")
    raise_at: float = Field(description="a value at or above this, held for raise_after_s, raises the level")
    clear_below: float = Field(description="a value below this, held for clear_after_s, lowers the level")
    raise_after_s: float = Field(default=0.0, ge=0, le=86_400)
    clear_after_s: float = Field(default=0.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _hysteresis(self) -> Level:
        if self.clear_below > self.raise_at:
            raise ValueError(f"level {self.name}: clear_below ({self.clear_below}) is above raise_at "
                             f"({self.raise_at}); a value between them would raise and clear at once")
        return self


class Measure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="as sensors report it, e.g. pm25")
    label: str = Field(min_length=1, max_length=64, description="as people read it, e.g. PM2.5")
    unit: str = Field(max_length=16, description="e.g. µg/m³, ppm, °C")
    code: str = Field(pattern=r"^[A-Z0-9]{8}$", description="the event code of its alarms (APLEN110, WESEN110)")
    levels: tuple[Level, ...] = Field(min_length=1, description="lowest first")

    @model_validator(mode="after")
    def _ascending(self) -> Measure:
        raises = [level.raise_at for level in self.levels]
        if raises != sorted(raises) or len(set(raises)) != len(raises):
            raise ValueError(f"measure {self.name}: levels must be listed lowest first, each raised higher")
        return self

    def level(self, number: int) -> Level:
        """Level 1 is the first listed; 0 means no alarm and has no Level."""
        return self.levels[number - 1]


def _level(name: str, grade: Grade, raise_at: float, clear_below: float, raise_after_s: float,
           clear_after_s: float) -> Level:
    return Level(name=name, grade=grade, raise_at=raise_at, clear_below=clear_below, raise_after_s=raise_after_s,
                 clear_after_s=clear_after_s)


_HOUR = 3600.0
KOREAN_MEASURES: tuple[Measure, ...] = (
    # Fine dust: advisory at a two-hour mean of 150 (PM10) / 75 (PM2.5), lifted below 100 / 35; warning at
    # 300 / 150, lowered to the advisory below 150 / 75.
    Measure(name="pm10", label="PM10", unit="µg/m³", code="APLEN110", levels=(
        _level("advisory", Grade.NORMAL, 150, 100, 2 * _HOUR, _HOUR),
        _level("warning", Grade.URGENT, 300, 150, 2 * _HOUR, _HOUR))),
    Measure(name="pm25", label="PM2.5", unit="µg/m³", code="APLEN110", levels=(
        _level("advisory", Grade.NORMAL, 75, 35, 2 * _HOUR, _HOUR),
        _level("warning", Grade.URGENT, 150, 75, 2 * _HOUR, _HOUR))),
    # Ozone: advisory 0.12 ppm, warning 0.3, serious warning 0.5 (one-hour means). The law lifts each below its
    # own value; a reading is not an hourly mean, so the hour's wait stands in for the averaging.
    Measure(name="o3", label="O₃", unit="ppm", code="APLEN110", levels=(
        _level("advisory", Grade.NORMAL, 0.12, 0.10, _HOUR, _HOUR),
        _level("warning", Grade.URGENT, 0.3, 0.25, _HOUR, _HOUR),
        _level("serious_warning", Grade.URGENT, 0.5, 0.45, _HOUR, _HOUR))),
    # NO2 has no alert in the law: the integrated air-quality index's "bad" (over 0.100 ppm) and "very bad"
    # (over 0.200 ppm) grades.
    Measure(name="no2", label="NO₂", unit="ppm", code="APLEN110", levels=(
        _level("bad", Grade.NORMAL, 0.101, 0.08, _HOUR, _HOUR),
        _level("very_bad", Grade.URGENT, 0.201, 0.18, _HOUR, _HOUR))),
    # Heat: the KMA's heat-wave advisory (33 °C) and warning (35 °C), held two hours at a sensor.
    Measure(name="temperature_c", label="Temperature", unit="°C", code="WESEN110", levels=(
        _level("heat_advisory", Grade.NORMAL, 33, 31, 2 * _HOUR, _HOUR),
        _level("heat_warning", Grade.URGENT, 35, 33, 2 * _HOUR, _HOUR))),
    # Heavy rain: the KMA's advisory (60 mm in 3 hours) and warning (90 mm); the gauge reports its rolling
    # 3-hour sum, already a duration, so no wait to raise.
    Measure(name="rainfall_mm_3h", label="Rainfall (3 h)", unit="mm", code="WESEN110", levels=(
        _level("rain_advisory", Grade.NORMAL, 60, 30, 0, _HOUR),
        _level("rain_warning", Grade.URGENT, 90, 60, 0, _HOUR))),
)


@dataclass(frozen=True, slots=True)
class MeasureState:
    """Where one sensor stands on one measure: its confirmed level, and the level its values have been heading
    for since a time (None: they agree with the confirmed level)."""

    level: int = 0
    pending: int | None = None
    since: datetime | None = None
    changed_at: datetime | None = None  # when the confirmed level last changed


def target_level(measure: Measure, level: int, value: float) -> int:
    """The level a value calls for, given the confirmed level: up to the highest level it reaches, down only
    below the current level's clear_below (the hysteresis)."""
    reached = sum(1 for lv in measure.levels if value >= lv.raise_at)
    if reached > level:
        return reached
    held = level
    while held > reached and value < measure.level(held).clear_below:
        held -= 1
    return held


def step(measure: Measure, state: MeasureState, value: float, at: datetime) -> MeasureState:
    """The state after a reading taken at ``at``. Readings must come in time order (older ones are skipped by
    the caller). A level changes only once the values have called for the change for the level's wait."""
    target = target_level(measure, state.level, value)
    if target == state.level:
        return MeasureState(state.level, None, None, state.changed_at)
    rising = target > state.level
    same_way = state.pending is not None and (state.pending > state.level) == rising
    since = state.since if same_way and state.since is not None else at
    wait = measure.level(target).raise_after_s if rising else measure.level(state.level).clear_after_s
    if (at - since).total_seconds() >= wait:
        return MeasureState(target, None, None, at)
    return replace(state, pending=target, since=since)
