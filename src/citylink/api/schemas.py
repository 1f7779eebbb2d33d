"""Wire schemas of the native API. Domain models stay free of HTTP concerns; these map onto them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from shapely.geometry import Polygon

from citylink.domain.catalogue import CATALOGUE, Grade
from citylink.domain.emission_zones import DAYS
from citylink.domain.events import Area, Detail, Event, Item, Location, Sender, Status
from citylink.domain.units import UnitKind, UnitState
from citylink.domain.watchlist import WatchCategory


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _string_code(value: Any) -> Any:
    # Senders write status and grade codes as numbers as often as strings.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class EventIn(_In):
    code: str = Field(description="event code from the catalogue, e.g. 112UC001")
    status: Status = Field(default=Status.OCCURRED, description="10 occurred, 40 changed, 50/90/91/92 end")
    occurrence: str = Field(min_length=1, max_length=128, description="the sender's key for this occurrence")
    grade: Grade | None = Field(default=None, description="10 urgent, 20 normal; default from the catalogue")
    name: str | None = Field(default=None, max_length=256, description="default: the catalogue name")
    time: AwareDatetime = Field(description="when it happened, ISO 8601 with a UTC offset")
    location: Location
    area: Area | None = Field(default=None, description="GeoJSON Polygon of the affected area (disasters)")
    radius_m: float | None = Field(default=None, gt=0, le=100_000, description="affected radius around location")
    place: str = Field(default="", max_length=512)
    content: str = Field(default="", max_length=4096)
    sender: Sender
    items: list[Item] = Field(default_factory=list, max_length=100)
    detail: Detail | None = None

    _codes = field_validator("status", "grade", mode="before")(_string_code)

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if value not in CATALOGUE:
            raise ValueError(f"unknown event code {value!r}; see GET /api/v1/catalogue")
        return value

    @model_validator(mode="after")
    def _valid_area(self) -> EventIn:
        if self.area is not None:
            shell, *holes = self.area.coordinates
            if len(shell) < 4 or shell[0] != shell[-1]:
                raise ValueError("area: the outer ring needs at least 4 positions and must be closed")
            for lon, lat in shell:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError(f"area: position ({lon}, {lat}) is outside WGS84 range")
            if not Polygon(shell, holes).is_valid:
                raise ValueError("area: the polygon is not valid (self-intersecting?)")
        return self

    def to_event(self) -> Event:
        entry = CATALOGUE[self.code]
        return Event(code=self.code, name=self.name or entry.name_ko, grade=self.grade or entry.default_grade,
                     status=self.status, occurrence=self.occurrence, location=self.location, area=self.area,
                     radius_m=self.radius_m, place=self.place, content=self.content, time=self.time,
                     sender=self.sender, items=tuple(self.items), detail=self.detail)


class EventAccepted(BaseModel):
    incident_id: str
    event_id: str


class StatusChange(_In):
    status: Status = Field(description="40 changed, or 50/90/91/92 to end the incident")
    content: str = Field(default="", max_length=4096, description="why")

    _codes = field_validator("status", mode="before")(_string_code)


class MediaIn(_In):
    kind: str = Field(pattern="^(scene_snapshot|suspect_still)$")
    url: str = Field(min_length=1, max_length=2048)


class CameraEdit(_In):
    add: list[str] = Field(default_factory=list, max_length=100, description="camera ids to add")
    remove: list[str] = Field(default_factory=list, max_length=100, description="camera ids to remove")


class ShareIn(_In):
    agency: str = Field(min_length=1, max_length=64, description="agency (or sub-unit) to share video with")
    purpose: str = Field(min_length=1, max_length=128)


class ImportReport(BaseModel):
    source: str
    imported: int
    updated: int
    unchanged: int
    rejected: list[dict[str, Any]]


class SensorIn(_In):
    """An environment sensor registered (or registered again) under the id it reports with."""

    name: str = Field(min_length=1, max_length=128, description="what operators call it, e.g. Kallio air station")
    location: Location = Field(description="where it stands")
    interval_s: float = Field(gt=0, le=86_400, description="how often it reports; silent for "
                              "environment.down_after_intervals of these, it is down")
    agency: str | None = Field(default=None, max_length=64, description="who maintains it and may send its "
                               "readings; default the caller's agency")
    city: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                             description="the city it reports for; default this platform's city")


MeasureValues = dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")], float]


class SensorReadingIn(_In):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sensor_id: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$", description="a registered sensor's id")
    time: AwareDatetime = Field(description="when it measured, ISO 8601 with a UTC offset")
    values: MeasureValues = Field(min_length=1, max_length=32, description="measure (e.g. pm25) to value")


class SensorReadingsIn(_In):
    readings: list[SensorReadingIn] = Field(min_length=1, max_length=5000)


class UnitIn(_In):
    """A mobile unit registered (or registered again) under the id in the path."""

    kind: UnitKind = Field(description="fire_engine, ambulance or patrol_car")
    name: str = Field(min_length=1, max_length=128, description="what crews and operators call it, e.g. Engine 11")
    agency: str | None = Field(default=None, max_length=64,
                               description="owning agency; default the caller's. Only centre staff may set another")
    state: UnitState = Field(default=UnitState.AVAILABLE)
    location: Location | None = Field(default=None, description="its position now, if known")
    time: AwareDatetime | None = Field(default=None, description="when the position was measured; default now")


class UnitUpdate(_In):
    """A position report, a state change, or both."""

    location: Location | None = None
    time: AwareDatetime | None = Field(default=None, description="when the position was measured; default now. "
                                       "An older position than the one known is ignored (reports cross)")
    state: UnitState | None = None
    incident_id: str | None = Field(default=None, max_length=36,
                                    description="the incident it is sent to (with state dispatched or busy)")

    @model_validator(mode="after")
    def _something(self) -> UnitUpdate:
        if self.location is None and self.state is None:
            raise ValueError("give a location, a state, or both")
        if self.time is not None and self.location is None:
            raise ValueError("time is the time of a location: give the location too")
        return self


class TrafficIn(_In):
    """A traffic report on one road: congestion or a closure."""

    speed_factor: float = Field(ge=0.0, le=2.0, allow_inf_nan=False,
                                description="share of the free-flow speed: 0.5 congested, 0 closed")
    reason: str = Field(default="", max_length=256, description="e.g. road works, accident, queue")


class WatchEntryIn(_In):
    """A vehicle on the police watch list, under the plate in the path."""

    category: WatchCategory = Field(description="wanted, stolen or urgent")
    reason: str = Field(min_length=1, max_length=512, description="why it is sought (case number, offence)")
    expires_at: AwareDatetime = Field(description="when the entry stops matching, ISO 8601 with a UTC offset")


class PlateReadIn(_In):
    camera_id: str = Field(min_length=1, max_length=128, description="the LPR camera (its id in the registry)")
    plate: str = Field(min_length=1, max_length=16, description="as read, e.g. 12가3456, 서울12가3456, ABC-123")
    time: AwareDatetime = Field(description="when it was read, ISO 8601 with a UTC offset")
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)
    heading_deg: float | None = Field(default=None, ge=0, lt=360, allow_inf_nan=False)
    image_url: str | None = Field(default=None, min_length=1, max_length=2048)
    location: Location | None = Field(default=None, description="default: the camera's registered position")


class PlateReadsIn(_In):
    reads: list[PlateReadIn] = Field(min_length=1, max_length=1000)


class TripIn(_In):
    """A walk home to watch, registered by the safe-return app's backend."""

    person_ref: str = Field(min_length=1, max_length=128, description="the walker's reference in the app")
    guardian_phone: str = Field(min_length=3, max_length=32, description="told on an alert and on arrival")
    origin: Location = Field(alias="from")
    destination: Location = Field(alias="to")
    expected_arrival: AwareDatetime = Field(description="ISO 8601 with a UTC offset")
    corridor_m: float | None = Field(default=None, gt=0, le=5000, description="default settings.safe_return")
    grace_s: float | None = Field(default=None, ge=0, le=86_400, description="default settings.safe_return")


class TripPosition(_In):
    location: Location
    time: AwareDatetime


class TripSos(_In):
    location: Location | None = Field(default=None, description="default: the last position known")
    time: AwareDatetime


class TripArrival(_In):
    time: AwareDatetime


class ZoneIn(_In):
    """A low-emission zone: where, on which days and between which local times restricted vehicles may not drive."""

    name: str = Field(min_length=1, max_length=128)
    area: Area = Field(description="GeoJSON Polygon (the outer ring is used)")
    days: list[str] = Field(min_length=1, max_length=7, description="mon … sun")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local time")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                     description="HH:MM local; before start: overnight; equal to start: all day")

    @field_validator("days")
    @classmethod
    def _known_days(cls, days: list[str]) -> list[str]:
        unknown = [d for d in days if d not in DAYS]
        if unknown:
            raise ValueError(f"unknown days {unknown}; use {', '.join(DAYS)}")
        return days

    @field_validator("area")
    @classmethod
    def _valid_ring(cls, area: Area) -> Area:
        ring = area.coordinates[0]
        if len(ring) < 4 or not Polygon(ring).is_valid:
            raise ValueError("the outer ring must be a closed, non-self-intersecting ring of at least 4 positions")
        return area
