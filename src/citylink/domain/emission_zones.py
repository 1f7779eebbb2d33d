"""Low-emission zones: where and when restricted vehicles may not drive, and who is exempt. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Active on these weekdays between start and end, local time (end before start: across midnight; end equal
    to start: all day)."""

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    timezone: str

    def active(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        now = local.time()
        if self.start == self.end:
            return local.weekday() in self.days
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= now < self.end
        if now >= self.start:  # the evening part of an overnight window belongs to today
            return local.weekday() in self.days
        return (local.weekday() - 1) % 7 in self.days and now < self.end


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    ring: tuple[tuple[float, float], ...]  # the outer boundary, lon/lat, closed
    schedule: Schedule


def local_day(at: datetime, timezone: str) -> str:
    """The local date a violation counts on: one violation per vehicle, zone and day."""
    return at.astimezone(ZoneInfo(timezone)).date().isoformat()
