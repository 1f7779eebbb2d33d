"""MQTT device messages to events and readings: the documented example payloads, and what gets refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citylink.adapters.mqtt_mapping import Rejected, map_message, parse_topic, position_update
from citylink.domain.catalogue import Grade
from citylink.domain.devices import DeviceType, occurrence_device
from citylink.domain.events import Status
from citylink.domain.units import UnitState

FIXTURES = Path(__file__).parent / "fixtures" / "mqtt"
PREFIX = "citylink"


def _payload(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def _rejected(topic: str, payload: bytes) -> str:
    with pytest.raises(Rejected) as caught:
        map_message(topic, payload, prefix=PREFIX)
    return str(caught.value)


def test_sos_is_a_vulnerable_person_event_of_its_own() -> None:
    mapped = map_message("citylink/helsinki/device/sos/W-77", _payload("sos"), prefix=PREFIX)
    event = mapped.event
    assert event is not None and mapped.reading is None
    assert (event.code, event.status, event.grade) == ("WPSSF110", Status.OCCURRED, Grade.URGENT)
    assert (event.sender.system, event.sender.city) == ("MQTT", "helsinki")
    # Device id and UTC time to the millisecond: one press, one occurrence, however often it is delivered.
    assert event.occurrence == "W-77-20261126090000250"
    assert occurrence_device(event.occurrence) == "W-77"
    assert (event.location.lon, event.location.lat, event.place) == (24.9414, 60.1710, "Rautatientori")
    assert {i.key: i.val for i in event.items} == {"DEVICE_ID": "W-77", "SOS_TYPE": "button",
                                                   "PERSON_REF": "W-1234", "GUARDIAN_PHONE": "+358401234567"}


def test_the_same_message_always_maps_to_the_same_ids() -> None:
    def ids(topic: str, name: str) -> tuple[str, ...]:
        mapped = map_message(topic, _payload(name), prefix=PREFIX)
        if mapped.event is not None:
            return mapped.event.event_id, mapped.event.incident_id
        assert mapped.reading is not None
        return (mapped.reading.id,)

    assert ids("citylink/helsinki/device/sos/W-77", "sos") == ids("citylink/helsinki/device/sos/W-77", "sos")
    sensor = ids("citylink/helsinki/device/sensor/AQ-1", "sensor")
    assert sensor == ids("citylink/helsinki/device/sensor/AQ-1", "sensor")
    assert sensor != ids("citylink/espoo/device/sensor/AQ-1", "sensor")


def test_position_is_a_reading_and_can_move_an_open_sos() -> None:
    reading = map_message("citylink/helsinki/device/position/W-77", _payload("position"), prefix=PREFIX).reading
    assert reading is not None
    assert (reading.device_type, reading.device_id, reading.lon, reading.lat) == (
        DeviceType.POSITION, "W-77", 24.9421, 60.1714)
    assert reading.measures == {"accuracy_m": 8.5, "heading_deg": 45.0, "speed_mps": 1.2}
    update = position_update(reading, occurrence="W-77-20261126090000250")
    assert (update.code, update.status, update.occurrence) == ("WPSSF110", Status.CHANGED, "W-77-20261126090000250")
    assert update.time == datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)
    assert (update.location.lon, update.location.lat) == (24.9421, 60.1714)


def test_sensor_reading_keeps_its_measures() -> None:
    reading = map_message("citylink/helsinki/device/sensor/AQ-1", _payload("sensor"), prefix=PREFIX).reading
    assert reading is not None
    assert (reading.device_type, reading.lon, reading.lat) == (DeviceType.SENSOR, None, None)
    assert reading.measures == {"pm10": 41.0, "pm25": 17.5, "o3_ppm": 0.031, "temperature_c": -3.5,
                                "rainfall_mm": 0.0}


def test_plate_read_is_a_read_for_the_watch_list_not_an_event() -> None:
    mapped = map_message("citylink/seoul/device/lpr/LPR-3", _payload("lpr"), prefix=PREFIX)
    read = mapped.plate_read
    assert mapped.event is None and read is not None
    assert (read.camera_id, read.plate.text, read.plate.key, read.confidence, read.heading_deg) == (
        "LPR-3", "12가3456", "12가3456", 0.93, 270.0)
    assert read.image_url == "https://lpr.example/helsinki/LPR-3/000123.jpg"
    again = map_message("citylink/seoul/device/lpr/LPR-3", _payload("lpr"), prefix=PREFIX).plate_read
    assert again is not None and again.id == read.id  # a redelivery is the same read
    unreadable = _payload("lpr").replace("12가3456".encode(), "12가34".encode())
    assert _rejected("citylink/seoul/device/lpr/LPR-3", unreadable).startswith("/plate: not a Korean plate")


def test_a_unit_report_moves_a_unit_and_keeps_its_position_as_a_reading() -> None:
    body = b'{"time": "2026-11-26T09:00:05Z", "location": {"lon": 24.95, "lat": 60.17}, "state": "dispatched"}'
    mapped = map_message("citylink/helsinki/device/unit/E11", body, prefix=PREFIX)
    assert mapped.event is None and mapped.unit is not None and mapped.reading is not None
    assert (mapped.unit.unit_id, mapped.unit.lon, mapped.unit.lat, mapped.unit.state) == (
        "E11", 24.95, 60.17, UnitState.DISPATCHED)
    assert (mapped.reading.device_type, mapped.reading.lon) == (DeviceType.UNIT, 24.95)
    state_only = map_message("citylink/helsinki/device/unit/E11", b'{"time": "2026-11-26T09:00:06Z", "state": "busy"}',
                             prefix=PREFIX)
    assert state_only.reading is None and state_only.unit is not None and state_only.unit.lon is None
    assert _rejected("citylink/helsinki/device/unit/E11", b'{"time": "2026-11-26T09:00:06Z"}') == (
        "/: a unit report needs a location, a state, or both")
    assert _rejected("citylink/helsinki/device/unit/E11",
                     b'{"time": "2026-11-26T09:00:06Z", "state": "lost"}').startswith("/state: Input should be")


@pytest.mark.parametrize(("topic", "reason"), [
    ("citylink/helsinki/device/sos", "topic does not follow citylink/<city>/device/<type>/<device-id>"),
    ("citylink/helsinki/device/sos/W-1/extra", "topic does not follow citylink/<city>/device/<type>/<device-id>"),
    ("citylink/helsinki/devices/sos/W-1", "topic does not follow citylink/<city>/device/<type>/<device-id>"),
    ("other/helsinki/device/sos/W-1", "topic does not follow citylink/<city>/device/<type>/<device-id>"),
    ("citylink/hel sinki/device/sos/W-1", "city and device id must be 1-64 letters, digits, '_', '.' or '-'"),
    ("citylink/helsinki/device/toaster/T-1", "unknown device type 'toaster'; known: sos, position, sensor, lpr, unit"),
])
def test_topics_outside_the_layout_are_refused(topic: str, reason: str) -> None:
    with pytest.raises(Rejected, match="^" + reason.replace("(", r"\(").replace(")", r"\)") + "$"):
        parse_topic(topic, prefix=PREFIX)


def test_bad_payloads_are_refused_with_the_field_and_without_the_value() -> None:
    sos = "citylink/helsinki/device/sos/W-1"
    assert _rejected(sos, b"\xff\xfe garbage") == "payload is not valid JSON"
    assert _rejected(sos, b"[1, 2]") == "payload must be a JSON object"
    body = json.loads(_payload("sos"))
    body["location"]["lat"] = 95
    body["time"] = "2026-11-26T11:00:00"
    body["name"] = "Aino Virtanen"
    reason = _rejected(sos, json.dumps(body).encode())
    assert reason == ("/time: Input should have timezone info; /location/lat: Input should be less than or equal "
                      "to 90; /name: Extra inputs are not permitted")
    assert "Aino" not in reason
    sensor = "citylink/helsinki/device/sensor/AQ-1"
    assert _rejected(sensor, b'{"time": "2026-11-26T09:00:00Z", "values": {"pm10": NaN}}') == (
        "/values/pm10: Input should be a finite number")
    assert _rejected(sensor, b'{"time": "2026-11-26T09:00:00Z", "values": {}}').startswith("/values: ")
    assert _rejected(sensor, b"{" + b" " * 70_000 + b"}") == "payload of 70,002 bytes is over the limit of 65,536"
