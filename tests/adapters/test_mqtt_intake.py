"""MQTT device intake against the real Mosquitto: from a device's publish to incidents, readings and dead letters."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from citylink.adapters.mqtt_intake import MqttIntake
from citylink.domain.events import Event
from citylink.runtime.intake import Accepted, Submit
from citylink.runtime.platform import Platform
from citylink.settings import MqttSettings, Settings
from citylink.store.tables import GrantRow, ReadingRow
from tests.conftest import SPOT, Harness, default_cameras, offset
from tests.services_available import need_server

pytestmark = pytest.mark.services

HOST, PORT = "127.0.0.1", 1883
GUARDIAN_PHONE = "+358401234567"
PLATE = "12가3456"


@dataclass
class Rig:
    harness: Harness
    intake: MqttIntake
    device: aiomqtt.Client
    prefix: str

    async def publish(self, kind: str, device_id: str, payload: dict[str, Any] | bytes, *,
                      city: str = "helsinki") -> None:
        await self.publish_raw(f"{self.prefix}/{city}/device/{kind}/{device_id}", payload)

    async def publish_raw(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await self.device.publish(topic, body, qos=1)

    async def settled(self, acknowledged: int) -> None:
        """Until the intake has acknowledged that many messages and the services have handled their events."""
        await _until(lambda: self.intake.stats.acknowledged >= acknowledged)
        await self.harness.settle()

    async def incidents(self, code: str) -> list[dict[str, Any]]:
        response = await self.harness.client.get("/api/v1/incidents", params={"code": code},
                                                 headers=self.harness.auth("centre"))
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()
        return [await self.harness.incident(i["id"]) for i in listed]

    def readings(self, device_id: str) -> list[ReadingRow]:
        query = select(ReadingRow).where(ReadingRow.device_id == device_id).order_by(ReadingRow.time)
        return list(self.harness.platform.db.read_sync(lambda s: s.execute(query).scalars().all()))


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting for the MQTT intake"
        await asyncio.sleep(0.01)


def _settings(run: str, **overrides: Any) -> MqttSettings:
    return MqttSettings(**{"url": f"mqtt://{HOST}:{PORT}", "topic_prefix": f"citylink-test/{run}",
                           "client_id": f"citylink-test-{run}", "reconnect_min_s": 0.05,
                           "reconnect_max_s": 0.5, **overrides})


async def _forget_session(client_id: str) -> None:
    """The intake's session is persistent on purpose; a test's must not outlive the test in the broker."""
    async with aiomqtt.Client(HOST, PORT, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
                              clean_start=True):
        pass


RigFactory = Callable[..., AbstractAsyncContextManager[Rig]]


@pytest.fixture
async def rig_factory(harness: Harness) -> AsyncIterator[RigFactory]:
    need_server("Mosquitto", HOST, PORT)
    started: list[tuple[MqttIntake, str]] = []

    @asynccontextmanager
    async def make(submit: Submit | None = None) -> AsyncIterator[Rig]:
        run = uuid.uuid4().hex[:12]
        settings = _settings(run)
        platform = harness.platform
        intake = MqttIntake(settings, db=platform.db, submit=submit or platform.submit,
                            take_reads=platform.plate_reads.take, sensors=platform.environment,
                            clock=platform.clock)
        await intake.start()
        started.append((intake, settings.client_id))
        await _until(lambda: intake.stats.connections >= 1)
        async with aiomqtt.Client(HOST, PORT, identifier=f"device-{run}") as device:
            yield Rig(harness, intake, device, settings.topic_prefix)

    yield make
    for intake, client_id in started:
        await intake.stop()
        await _forget_session(client_id)


@pytest.fixture
async def rig(rig_factory: RigFactory) -> AsyncIterator[Rig]:
    async with rig_factory() as made:
        yield made


def _sos(at: tuple[float, float] = SPOT, time: str = "2026-11-26T11:00:00+02:00") -> dict[str, Any]:
    return {"time": time, "location": {"lon": at[0], "lat": at[1]}, "kind": "button", "person_ref": "W-1234",
            "guardian_phone": GUARDIAN_PHONE}


def _position(at: tuple[float, float], time: str) -> dict[str, Any]:
    return {"time": time, "location": {"lon": at[0], "lat": at[1]}, "accuracy_m": 8.0}


async def test_wearable_sos_becomes_an_incident_with_cameras_and_a_police_grant(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await rig.publish("sos", "W-77", _sos())
    await rig.settled(1)

    [incident] = await rig.incidents("WPSSF110")
    assert incident["status"] == "10"
    assert incident["cameras"][0]["id"] == "sees"
    assert [g["agency"] for g in incident["grants"]] == ["police"]
    assert sorted(n["recipient"] for n in incident["notifications"]) == ["guardian", "police"]
    [event] = incident["events"]
    assert event["received_by"] == "centre"

    # The wearer walks away while the SOS is open: the cameras follow the latest position.
    await rig.publish("position", "W-77", _position(offset(*SPOT, north_m=2000), "2026-11-26T11:02:00+02:00"))
    await rig.settled(2)
    [incident] = await rig.incidents("WPSSF110")
    assert incident["cameras"][0]["id"] == "far"
    assert incident["grants"][0]["cameras"] == ["far"]
    assert [r.lat for r in rig.readings("W-77")] == [pytest.approx(offset(*SPOT, north_m=2000)[1])]

    assert GUARDIAN_PHONE not in caplog.text and "W-1234" not in caplog.text


async def _register_sensor(h: Harness, sensor_id: str, *, east_m: float = 0.0) -> None:
    at = offset(*SPOT, east_m=east_m)
    response = await h.client.put(f"/api/v1/sensors/{sensor_id}", headers=h.auth("centre"), json={
        "name": f"air station {sensor_id}", "location": {"lon": at[0], "lat": at[1]}, "interval_s": 10})
    assert response.status_code == 201, response.text


async def test_a_message_delivered_twice_is_stored_once(rig: Rig) -> None:
    await _register_sensor(rig.harness, "AQ-1")
    reading = {"time": "2026-11-26T09:00:00Z", "values": {"pm10": 41.0, "pm25": 17.5}}
    for _ in range(2):
        await rig.publish("sos", "W-78", _sos())
        await rig.publish("sensor", "AQ-1", reading)
    await rig.settled(4)

    [incident] = await rig.incidents("WPSSF110")
    assert len(incident["events"]) == 1
    assert len(incident["grants"]) == 1 and len(incident["notifications"]) == 2
    assert [r.measures for r in rig.readings("AQ-1")] == [{"pm10": 41.0, "pm25": 17.5}]
    assert (rig.intake.stats.events, rig.intake.stats.readings, rig.intake.stats.duplicates) == (1, 1, 2)


async def test_a_rain_gauge_over_its_advisory_opens_a_weather_alarm_and_falling_back_lifts_it(rig: Rig) -> None:
    h = rig.harness
    await _register_sensor(h, "RG-1")
    await rig.publish("sensor", "RG-1", {"time": "2026-11-26T09:00:00Z", "values": {"rainfall_mm_3h": 64.5}})
    await rig.settled(1)
    await h.platform.environment.flush()
    await h.settle()
    [alarm] = await rig.incidents("WESEN110")  # the KMA's heavy-rain advisory: 60 mm in 3 hours, no wait
    assert alarm["content"] == "Rainfall (3 h) rain advisory: 64.5 mm at air station RG-1"
    assert alarm["grants"][0]["agency"] == "disaster" and alarm["cameras"]

    # Under 30 mm for the hour the advisory asks before it is lifted.
    for minute in (10, 40, 71):
        await rig.publish("sensor", "RG-1", {"time": f"2026-11-26T{9 + minute // 60:02d}:{minute % 60:02d}:00Z",
                                             "values": {"rainfall_mm_3h": 12.0}})
    await rig.settled(4)
    await h.platform.environment.flush()
    await h.settle()
    [alarm] = await rig.incidents("WESEN110")
    assert alarm["status"] == "50"


async def test_nothing_is_acknowledged_until_stored_so_the_broker_delivers_it_again(
        harness: Harness, rig_factory: RigFactory) -> None:
    calls: list[str] = []

    async def store_down_once(event: Event, *, received_by: str, correlation_id: str) -> Accepted:
        calls.append(event.event_id)
        if len(calls) == 1:
            raise OperationalError("INSERT INTO events", {}, ConnectionError("server closed the connection"))
        accepted: Accepted = await harness.platform.submit(event, received_by=received_by,
                                                           correlation_id=correlation_id)
        return accepted

    async with rig_factory(submit=store_down_once) as rig:
        await rig.publish("sos", "W-79", _sos())
        await rig.settled(1)
        assert rig.intake.stats.connections == 2  # dropped the connection, unacknowledged, and came back
        assert len(calls) == 2 and calls[0] == calls[1]  # the broker delivered the same message again
        [incident] = await rig.incidents("WPSSF110")
        assert len(incident["events"]) == 1 and incident["grants"][0]["agency"] == "police"


async def test_bad_messages_become_dead_letters_and_intake_goes_on(rig: Rig) -> None:
    h = rig.harness
    await _register_sensor(h, "AQ-2")
    await rig.publish("sos", "W-80", b"SOS!!")
    await rig.publish("sensor", "AQ-2", {"time": "2026-11-26T09:00:00Z", "values": {"pm10": "high"}})
    await rig.publish("toaster", "T-1", {"time": "2026-11-26T09:00:00Z"})
    await rig.publish_raw(f"{rig.prefix}/helsinki/sos/W-80", _sos())
    await rig.publish("sensor", "AQ-2", {"time": "2026-11-26T09:00:10Z", "values": {"pm10": 38.0}})
    await rig.publish("sensor", "AQ-404", {"time": "2026-11-26T09:00:10Z", "values": {"pm10": 38.0}})
    # Two presses within one millisecond are one occurrence: the second cannot open it again.
    await rig.publish("sos", "W-81", _sos(time="2026-11-26T11:00:00.250100+02:00"))
    await rig.publish("sos", "W-81", _sos(time="2026-11-26T11:00:00.250900+02:00"))
    await rig.settled(8)

    assert [r.measures for r in rig.readings("AQ-2")] == [{"pm10": 38.0}]
    assert rig.readings("AQ-404") == []
    response = await h.client.get("/api/v1/dead-letters", headers=h.auth("centre"))
    assert response.status_code == 200
    letters = {d["topic"].removeprefix(rig.prefix + "/"): d for d in response.json()}
    assert letters.keys() == {"helsinki/device/sos/W-80", "helsinki/device/sensor/AQ-2",
                              "helsinki/device/toaster/T-1", "helsinki/sos/W-80", "helsinki/device/sos/W-81",
                              "helsinki/device/sensor/AQ-404"}
    assert letters["helsinki/device/sensor/AQ-404"]["reason"] == (
        "no sensor AQ-404 is registered (PUT /api/v1/sensors/AQ-404 first)")
    assert letters["helsinki/device/sos/W-81"]["reason"] == (
        "event not accepted: status 10 (occurred) after 10 (occurred) goes backwards")
    assert len(await rig.incidents("WPSSF110")) == 1
    assert letters["helsinki/device/sos/W-80"]["reason"] == "payload is not valid JSON"
    assert letters["helsinki/device/sos/W-80"]["payload"] == "SOS!!"
    assert letters["helsinki/device/sensor/AQ-2"]["reason"].startswith("/values/pm10: Input should be a valid number")
    assert letters["helsinki/device/toaster/T-1"]["reason"].startswith("unknown device type 'toaster'")
    assert letters["helsinki/sos/W-80"]["reason"] == (
        f"topic does not follow {rig.prefix}/<city>/device/<type>/<device-id>")
    assert all(d["received_at"] for d in letters.values())

    police = await h.client.get("/api/v1/dead-letters", headers=h.auth("police"))
    assert police.status_code == 403


async def test_unit_trackers_move_registered_units_and_unknown_units_are_dead_letters(rig: Rig) -> None:
    h = rig.harness
    registered = await h.client.put("/api/v1/units/E11", json={"kind": "fire_engine", "name": "Engine 11"},
                                    headers=h.auth("fire"))
    assert registered.status_code == 201
    at = offset(*SPOT, east_m=300)
    await rig.publish("unit", "E11", {"time": "2026-11-26T09:00:10Z", "location": {"lon": at[0], "lat": at[1]}})
    await rig.publish("unit", "E11", {"time": "2026-11-26T09:00:20Z", "state": "busy"})
    await rig.publish("unit", "E11", {"time": "2026-11-26T09:00:00Z", "location": {"lon": SPOT[0], "lat": SPOT[1]}})
    await rig.publish("unit", "E99", {"time": "2026-11-26T09:00:10Z", "state": "available"})
    await rig.settled(4)

    unit = (await h.client.get("/api/v1/units", headers=h.auth("fire"))).json()["units"][0]
    # The report from 09:00:00 arrived last but is older than the one from 09:00:10: the unit stays put.
    assert unit["location"] == {"lon": at[0], "lat": at[1]} and unit["state"] == "busy"
    assert unit["position_at"] == "2026-11-26T09:00:10+00:00"
    assert [(r.lon, r.lat) for r in rig.readings("E11")] == [(SPOT[0], SPOT[1]), (at[0], at[1])]
    letters = (await h.client.get("/api/v1/dead-letters", headers=h.auth("centre"))).json()
    assert [d["reason"] for d in letters] == ["no unit E99 is registered (PUT /api/v1/units/E99 first)"]
    audit = (await h.client.get("/api/v1/audit", params={"subject": "unit:E11"}, headers=h.auth("centre"))).json()
    assert [(e["actor"], e["detail"].get("state")) for e in audit][-1] == ("MQTT", "busy")


async def test_plate_reads_are_matched_and_plates_stay_out_of_the_log(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = rig.harness
    listed = await h.client.put(f"/api/v1/lpr/watch-list/{PLATE}", headers=h.auth("police"),
                                json={"category": "stolen", "reason": "case 2026-118",
                                      "expires_at": "2026-12-31T00:00:00Z"})
    assert listed.status_code == 201, listed.text
    read = {"time": "2026-11-26T09:00:00.250Z", "location": {"lon": SPOT[0], "lat": SPOT[1]}, "plate": PLATE,
            "confidence": 0.93, "heading_deg": 270, "image_url": "https://lpr.example/1.jpg"}
    await rig.publish("lpr", "LPR-3", read)
    await rig.publish("lpr", "LPR-3", {**read, "plate": "34나5678", "time": "2026-11-26T09:00:01Z"})
    await rig.settled(2)

    [incident] = await rig.incidents("LPRUM120")  # the hit; the other read is stored, not an incident
    items = {i["key"]: i["val"] for i in incident["events"][0]["event"]["items"]}
    assert items["PLATE"] == PLATE and items["WATCH_CATEGORY"] == "stolen" and items["CAMERA_ID"] == "LPR-3"
    assert incident["grants"][0]["agency"] == "police"
    assert rig.intake.stats.plate_reads == 2
    assert PLATE not in caplog.text and "34나5678" not in caplog.text


async def test_intake_keeps_trying_a_broker_that_is_not_there(harness: Harness,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    intake = MqttIntake(_settings("nobroker", url="mqtt://127.0.0.1:9"), db=harness.platform.db,
                        submit=harness.platform.submit, take_reads=harness.platform.plate_reads.take,
                        sensors=harness.platform.environment, clock=harness.platform.clock)
    await intake.start()
    await _until(lambda: caplog.text.count("MQTT broker 127.0.0.1:9: ") >= 3)
    assert "reconnecting in 0.05 s" in caplog.text and "reconnecting in 0.20 s" in caplog.text  # backing off
    assert intake.stats.connections == 0
    await intake.stop()  # and it stops cleanly while retrying


async def test_configured_broker_is_subscribed_by_the_platform_itself(tmp_path: Path) -> None:
    """Setting CITYLINK_MQTT__URL is all an operator does: the platform starts and stops the intake."""
    need_server("Mosquitto", HOST, PORT)
    run = uuid.uuid4().hex[:12]
    mqtt = _settings(run)
    platform = Platform.open(Settings(data_dir=tmp_path, mqtt=mqtt))
    platform.bootstrap()
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    await platform.start()
    try:
        assert platform.mqtt is not None
        await _until(lambda: platform.mqtt is not None and platform.mqtt.stats.connections >= 1)
        async with aiomqtt.Client(HOST, PORT, identifier=f"device-{run}") as device:
            await device.publish(f"{mqtt.topic_prefix}/helsinki/device/sos/W-9", json.dumps(_sos()), qos=1)
        await _until(lambda: platform.db.read_sync(lambda s: s.scalar(select(func.count()).select_from(GrantRow)))
                     == 1)
    finally:
        await platform.stop()
        await _forget_session(mqtt.client_id)
