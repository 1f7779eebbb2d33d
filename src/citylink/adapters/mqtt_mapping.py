"""MQTT device messages to citylink's own records: pure, no broker and no store.

Topics are ``<prefix>/<city>/device/<type>/<device-id>``. An SOS becomes an event, as ``POST /api/v1/events``
would make it; a licence-plate read becomes a plate read (matched against the watch list, as
``POST /api/v1/lpr/reads`` takes it); a position or a sensor reading becomes a stored reading, and a
position of a wearable with an open SOS also moves that incident (docs/decisions.md).

Everything here is deterministic in the message: a redelivered message maps to the same event id or reading
id, which is what makes QoS 1's at-least-once delivery land exactly once in the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from citylink.domain.catalogue import CATALOGUE
from citylink.domain.devices import DeviceType, Reading, device_occurrence, reading_id
from citylink.domain.events import Event, Item, Location, Sender, Status
from citylink.domain.plates import UnreadablePlate, parse_plate
from citylink.domain.units import UnitReport, UnitState
from citylink.domain.watchlist import PlateRead, read_id

SENDER_SYSTEM = "MQTT"
SOS_CODE = "WPSSF110"
MAX_PAYLOAD_BYTES = 65_536

_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class Rejected(ValueError):
    """The message cannot be taken in; the reason goes to its dead-letter record (never a payload value)."""


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    city: str
    type: DeviceType
    device_id: str


@dataclass(frozen=True, slots=True)
class Mapped:
    """What one message is: an event to submit, or a reading to store."""

    event: Event | None = None
    reading: Reading | None = None
    unit: UnitReport | None = None
    plate_read: PlateRead | None = None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    time: AwareDatetime = Field(description="when the device measured or raised it, ISO 8601 with a UTC offset")


class SosPayload(_Payload):
    location: Location
    kind: str = Field(default="button", pattern=r"^[a-z][a-z_]{0,31}$", description="button, geofence_exit, fall…")
    place: str = Field(default="", max_length=512)
    person_ref: str | None = Field(default=None, min_length=1, max_length=128,
                                   description="the wearer's reference in the welfare system")
    guardian_phone: str | None = Field(default=None, min_length=3, max_length=32)


class PositionPayload(_Payload):
    location: Location
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    speed_mps: float | None = Field(default=None, ge=0, le=150)


MeasureName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class SensorPayload(_Payload):
    location: Location | None = Field(default=None, description="for mobile sensors; fixed ones may leave it out")
    values: dict[MeasureName, float] = Field(min_length=1, max_length=32,
                                             description="measure name (unit in the name) to value")


class LprPayload(_Payload):
    location: Location
    plate: str = Field(min_length=1, max_length=16)
    confidence: float = Field(ge=0, le=1)
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    image_url: str | None = Field(default=None, min_length=1, max_length=2048)


class UnitPayload(_Payload):
    location: Location | None = None
    state: UnitState | None = Field(default=None, description="available, dispatched, busy or off_duty")

    @model_validator(mode="after")
    def _something(self) -> UnitPayload:
        if self.location is None and self.state is None:
            raise ValueError("a unit report needs a location, a state, or both")
        return self


_PAYLOADS: dict[DeviceType, type[_Payload]] = {
    DeviceType.SOS: SosPayload,
    DeviceType.POSITION: PositionPayload,
    DeviceType.SENSOR: SensorPayload,
    DeviceType.LPR: LprPayload,
    DeviceType.UNIT: UnitPayload,
}


def topic_filter(prefix: str) -> str:
    # Everything under the prefix, not just the five-level layout, so that a device publishing on a wrong
    # topic shows up in the dead letters instead of vanishing.
    return f"{prefix}/#"


def parse_topic(topic: str, *, prefix: str) -> DeviceTopic:
    layout = f"{prefix}/<city>/device/<type>/<device-id>"
    rest = topic.removeprefix(f"{prefix}/")
    parts = rest.split("/")
    if rest == topic or len(parts) != 4 or parts[1] != "device":
        raise Rejected(f"topic does not follow {layout}")
    city, _, kind, device_id = parts
    if not _SEGMENT.match(city) or not _SEGMENT.match(device_id):
        raise Rejected("city and device id must be 1-64 letters, digits, '_', '.' or '-'")
    try:
        device_type = DeviceType(kind)
    except ValueError:
        raise Rejected(f"unknown device type {kind[:32]!r}; known: {', '.join(DeviceType)}") from None
    return DeviceTopic(city, device_type, device_id)


def map_message(topic: str, payload: bytes, *, prefix: str) -> Mapped:
    """The event or reading a message stands for, or Rejected with the reason."""
    where = parse_topic(topic, prefix=prefix)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected(f"payload of {len(payload):,} bytes is over the limit of {MAX_PAYLOAD_BYTES:,}")
    try:
        body = _PAYLOADS[where.type].model_validate_json(payload)
    except ValidationError as exc:
        raise Rejected(_explain(exc)) from None
    if isinstance(body, SosPayload):
        return Mapped(event=_sos_event(where, body))
    if isinstance(body, LprPayload):
        return Mapped(plate_read=_plate_read(where, body))
    if isinstance(body, PositionPayload):
        measures = {k: v for k, v in (("accuracy_m", body.accuracy_m), ("heading_deg", body.heading_deg),
                                      ("speed_mps", body.speed_mps)) if v is not None}
        return Mapped(reading=_reading(where, body.time, body.location, measures))
    if isinstance(body, UnitPayload):
        where_now = body.location
        report = UnitReport(where.device_id, body.time, where_now.lon if where_now else None,
                            where_now.lat if where_now else None, body.state)
        return Mapped(reading=_reading(where, body.time, where_now, {}) if where_now else None, unit=report)
    assert isinstance(body, SensorPayload)
    return Mapped(reading=_reading(where, body.time, body.location, dict(body.values)))


def position_update(reading: Reading, *, occurrence: str) -> Event:
    """A position of a wearable with an open SOS: status 40 of that incident, so its cameras follow."""
    assert reading.lon is not None and reading.lat is not None
    return _event(SOS_CODE, Status.CHANGED, occurrence, reading.time, Location(lon=reading.lon, lat=reading.lat),
                  reading.city, [("DEVICE_ID", reading.device_id)])


def _sos_event(where: DeviceTopic, body: SosPayload) -> Event:
    items = [("DEVICE_ID", where.device_id), ("SOS_TYPE", body.kind), ("PERSON_REF", body.person_ref),
             ("GUARDIAN_PHONE", body.guardian_phone)]
    return _event(SOS_CODE, Status.OCCURRED, device_occurrence(where.device_id, body.time), body.time, body.location,
                  where.city, items, place=body.place)


def _plate_read(where: DeviceTopic, body: LprPayload) -> PlateRead:
    try:
        plate = parse_plate(body.plate)
    except UnreadablePlate as exc:
        raise Rejected(f"/plate: {exc}") from None
    return PlateRead(read_id(where.device_id, plate, body.time), where.device_id, plate, body.time,
                     body.location.lon, body.location.lat, body.confidence, body.heading_deg, body.image_url)


def _event(code: str, status: Status, occurrence: str, time: datetime, location: Location, city: str,
           items: list[tuple[str, str | None]], *, place: str = "") -> Event:
    entry = CATALOGUE[code]
    return Event(code=code, name=entry.name_ko, grade=entry.default_grade, status=status, occurrence=occurrence,
                 location=location, place=place, time=time, sender=Sender(system=SENDER_SYSTEM, city=city),
                 items=tuple(Item(key=k, val=v) for k, v in items if v is not None))


def _reading(where: DeviceTopic, time: datetime, location: Location | None, measures: dict[str, float]) -> Reading:
    return Reading(id=reading_id(where.city, where.type, where.device_id, time), city=where.city,
                   device_type=where.type, device_id=where.device_id, time=time, lon=location.lon if location else None,
                   lat=location.lat if location else None, measures=measures)


def _explain(exc: ValidationError) -> str:
    """Field pointers and messages, as the HTTP API gives them; never the input values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        if err["type"] == "json_invalid":
            return "payload is not valid JSON"
        if err["type"] == "model_type":
            return "payload must be a JSON object"
        pointer = "/" + "/".join(str(p) for p in err["loc"])
        parts.append(f"{pointer}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
