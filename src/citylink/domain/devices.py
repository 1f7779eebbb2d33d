"""Devices (wearables, units, sensors, LPR cameras) and what they report: pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class DeviceType(StrEnum):
    SOS = "sos"
    POSITION = "position"
    SENSOR = "sensor"
    LPR = "lpr"
    UNIT = "unit"  # a fire engine's, ambulance's or patrol car's tracker: position and state


@dataclass(frozen=True, slots=True)
class Reading:
    """A position or a sensor reading. The id is derived from city, type, device and time, so the same
    reading delivered twice is recognised."""

    id: str
    city: str
    device_type: DeviceType
    device_id: str
    time: datetime
    lon: float | None
    lat: float | None
    measures: dict[str, float]


_READING_NAMESPACE = uuid.UUID("0b7e6c55-2f1d-4f57-8d0e-5b0f3a9c1d21")


def reading_id(city: str, device_type: DeviceType, device_id: str, time: datetime) -> str:
    """The same for the same reading however it arrives (MQTT redelivery, MQTT and HTTP both)."""
    return str(uuid.uuid5(_READING_NAMESPACE, f"{city}|{device_type.value}|{device_id}|{time.isoformat()}"))


def device_occurrence(device_id: str, time: datetime) -> str:
    """The occurrence number of something a device raised at a time: the device id and the UTC time to the
    millisecond, like the Korean platform's 17-digit numbers. One press of a button is one occurrence,
    however often it is delivered."""
    utc = time.astimezone(UTC)
    return f"{device_id}-{utc:%Y%m%d%H%M%S}{utc.microsecond // 1000:03d}"


def occurrence_device(occurrence: str) -> str:
    """The device a device_occurrence number was made for."""
    return occurrence.rsplit("-", 1)[0]
