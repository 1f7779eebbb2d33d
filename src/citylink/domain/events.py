"""The event: one message from a linked system, as DESIGN.md defines it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from citylink.domain.catalogue import Grade

# Deterministic ids make intake idempotent across processes: the same event always gets the same id.
_EVENT_NAMESPACE = uuid.UUID("6f1c2b1e-54a4-4c5d-9a3f-0c1d2e3f4a5b")


class Status(StrEnum):
    OCCURRED = "10"
    CHANGED = "40"
    CLEARED = "50"
    CANCELLED = "90"
    ENDED = "91"
    AUTO_ENDED = "92"

    @property
    def ends_incident(self) -> bool:
        return self in _ENDING

    @property
    def label(self) -> str:
        return _LABELS[self]


_ENDING = frozenset({Status.CLEARED, Status.CANCELLED, Status.ENDED, Status.AUTO_ENDED})
_LABELS = {
    Status.OCCURRED: "occurred",
    Status.CHANGED: "changed",
    Status.CLEARED: "cleared",
    Status.CANCELLED: "cancelled",
    Status.ENDED: "ended",
    Status.AUTO_ENDED: "auto-ended",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(_Frozen):
    lon: float = Field(ge=-180.0, le=180.0, description="WGS84 longitude in degrees")
    lat: float = Field(ge=-90.0, le=90.0, description="WGS84 latitude in degrees")
    z: float | None = Field(default=None, description="height in metres, when the sender knows it")


class Sender(_Frozen):
    system: str = Field(min_length=1, max_length=64, description="sender system code, e.g. IPC, 112")
    city: str = Field(min_length=1, max_length=64, description="sender city code")


class Item(_Frozen):
    key: str = Field(min_length=1, max_length=128)
    val: str = Field(max_length=4096)


class Detail(_Frozen):
    code: str = Field(default="", max_length=64)
    text: str = Field(default="", max_length=1024)


class Area(_Frozen):
    """A GeoJSON Polygon: one outer ring of [lon, lat] positions, optional holes."""

    type: str = Field(pattern="^Polygon$")
    coordinates: list[list[tuple[float, float]]] = Field(min_length=1)


class Event(_Frozen):
    """A validated event, as the services see it."""

    code: str
    name: str
    grade: Grade
    status: Status
    occurrence: str
    location: Location
    area: Area | None = None
    radius_m: float | None = None
    place: str = ""
    content: str = ""
    time: datetime
    sender: Sender
    items: tuple[Item, ...] = ()
    detail: Detail | None = None

    @cached_property
    def incident_key(self) -> str:
        return incident_key(self.sender.city, self.code, self.occurrence)

    @cached_property
    def event_id(self) -> str:
        identity = f"{self.incident_key}|{self.status.value}|{self.time.isoformat()}"
        return str(uuid.uuid5(_EVENT_NAMESPACE, identity))

    @cached_property
    def incident_id(self) -> str:
        return incident_id_of(self.incident_key)

    def item(self, key: str) -> str | None:
        for item in self.items:
            if item.key == key:
                return item.val
        return None


def incident_key(city: str, code: str, occurrence: str) -> str:
    return f"{city}|{code}|{occurrence}"


def incident_id_of(key: str) -> str:
    """The incident id of an incident key: the same in every process, before the incident exists."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, key))
