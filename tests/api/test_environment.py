"""Environment end to end: registered sensors' readings (HTTP) open, change and lift an air-quality alarm with
its cameras, its video grant, its notifications and its drawn time series; a wavering value does not flap it;
a silent sensor raises a maintenance event that ends when it reports again; bad input is refused by field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from citylink.api.app import create_app
from citylink.domain.catalogue import Grade
from citylink.domain.environment import Level, Measure
from citylink.domain.events import Event
from citylink.runtime.intake import Accepted
from citylink.runtime.platform import Platform
from citylink.settings import EnvironmentSettings, Settings
from tests.conftest import SPOT, FakeClock, Harness, offset

PM25 = Measure(name="pm25", label="PM2.5", unit="µg/m³", code="APLEN110", levels=(
    Level(name="advisory", grade=Grade.NORMAL, raise_at=75, clear_below=35, raise_after_s=120, clear_after_s=60),
    Level(name="warning", grade=Grade.URGENT, raise_at=150, clear_below=75, raise_after_s=120, clear_after_s=60)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", environment=EnvironmentSettings(measures=(PM25,)))


async def _sensor(h: Harness, sensor_id: str, *, east_m: float = 0.0, agency: str | None = None,
                  by: str = "centre", interval_s: float = 10) -> dict[str, Any]:
    at = offset(*SPOT, east_m=east_m)
    body: dict[str, Any] = {"name": f"air station {sensor_id}", "location": {"lon": at[0], "lat": at[1]},
                            "interval_s": interval_s}
    if agency:
        body["agency"] = agency
    response = await h.client.put(f"/api/v1/sensors/{sensor_id}", json=body, headers=h.auth(by))
    assert response.status_code == 201, response.text
    view: dict[str, Any] = response.json()
    return view


async def _readings(h: Harness, clock: FakeClock, *values: tuple[str, float], by: str = "centre") -> dict[str, Any]:
    body = {"readings": [{"sensor_id": s, "time": clock.now.isoformat(), "values": {"pm25": v}} for s, v in values]}
    response = await h.client.post("/api/v1/sensors/readings", json=body, headers=h.auth(by))
    assert response.status_code == 200, response.text
    await h.platform.environment.flush()
    await h.settle()
    result: dict[str, Any] = response.json()
    return result


async def _alarms(h: Harness, code: str = "APLEN110") -> list[dict[str, Any]]:
    listed = (await h.client.get("/api/v1/incidents", params={"code": code}, headers=h.auth("centre"))).json()
    return [await h.incident(i["id"]) for i in listed]


def _items(event: dict[str, Any]) -> dict[str, str]:
    return {i["key"]: i["val"] for i in event["event"]["items"]}


async def _hold(h: Harness, clock: FakeClock, seconds: int, *values: tuple[str, float]) -> None:
    """Report the values every 10 s for that long."""
    for _ in range(seconds // 10):
        clock.advance(seconds=10)
        await _readings(h, clock, *values)


async def test_a_held_high_value_opens_an_alarm_that_follows_the_sensors_and_is_lifted(
        harness: Harness, clock: FakeClock) -> None:
    h = harness
    await _sensor(h, "AQ-1")
    await _sensor(h, "AQ-2", east_m=400)

    await _readings(h, clock, ("AQ-1", 90.0), ("AQ-2", 20.0))
    await _hold(h, clock, 110, ("AQ-1", 92.0), ("AQ-2", 20.0))
    assert await _alarms(h) == []  # 110 s above 75: not yet the 120 s the level asks for
    await _hold(h, clock, 10, ("AQ-1", 96.0), ("AQ-2", 21.0))

    [alarm] = await _alarms(h)
    assert (alarm["status"], alarm["grade"], alarm["place"]) == ("10", "20", "air station AQ-1")
    assert alarm["content"] == "PM2.5 advisory: 96 µg/m³ at air station AQ-1"
    assert alarm["cameras"][0]["id"] == "sees"
    assert [(g["agency"], g["purpose"]) for g in alarm["grants"]] == [("disaster", "environment alarm")]
    assert [(n["recipient"], n["message"]) for n in alarm["notifications"]] == [
        ("disaster", "PM2.5 advisory: 96 µg/m³ at air station AQ-1")]
    assert _items(alarm["events"][0])["SENSORS"] == "AQ-1"

    # A second sensor joins: the same incident, now naming both. Then AQ-1 reaches the warning level.
    await _hold(h, clock, 130, ("AQ-1", 120.0), ("AQ-2", 80.0))
    [alarm] = await _alarms(h)
    assert _items(alarm["events"][-1])["SENSORS"] == "AQ-1,AQ-2" and alarm["grade"] == "20"
    await _hold(h, clock, 130, ("AQ-1", 160.0), ("AQ-2", 80.0))
    [alarm] = await _alarms(h)
    last = _items(alarm["events"][-1])
    assert (alarm["grade"], last["LEVEL"], last["PREVIOUS_LEVEL"]) == ("10", "warning", "advisory")
    assert alarm["notifications"][-1]["message"] == "PM2.5 warning: 160 µg/m³ at air station AQ-1 and 1 more sensor"

    # Back below the advisory's 35 at both for a minute: lifted, the grant revoked, the disaster room told.
    await _hold(h, clock, 50, ("AQ-1", 20.0), ("AQ-2", 20.0))
    assert (await _alarms(h))[0]["status"] != "50"
    await _hold(h, clock, 20, ("AQ-1", 20.0), ("AQ-2", 20.0))
    [alarm] = await _alarms(h)
    assert alarm["status"] == "50" and alarm["ended_at"]
    assert alarm["grants"][0]["revoked_at"] is not None
    assert alarm["notifications"][-1]["message"] == "Lifted: PM2.5 back below 35 µg/m³ at every sensor"

    # The board draws the alarm: both sensors' values from an hour before it opened until it was lifted.
    series = (await h.client.get(f"/api/v1/incidents/{alarm['id']}/environment", headers=h.auth("disaster"))).json()
    assert series["measure"]["name"] == "pm25" and [lv["raise_at"] for lv in series["measure"]["levels"]] == [75, 150]
    assert [s["id"] for s in series["sensors"]] == ["AQ-1", "AQ-2"]
    values = [v for _, v in series["sensors"][0]["points"]]
    assert values[0] == 90.0 and max(values) == 160.0 and values[-1] == 20.0

    # Later the same measure rises again: a new alarm, a new incident.
    await _hold(h, clock, 130, ("AQ-2", 200.0))
    assert sorted(a["status"] for a in await _alarms(h)) == ["10", "50"]


async def test_a_value_wavering_around_the_threshold_does_not_flap_the_alarm(
        harness: Harness, clock: FakeClock) -> None:
    h = harness
    await _sensor(h, "AQ-3")
    for value in [80.0, 70.0] * 20:  # never 120 s above 75 in a row
        clock.advance(seconds=60)
        await _readings(h, clock, ("AQ-3", value))
    assert await _alarms(h) == []

    await _hold(h, clock, 130, ("AQ-3", 90.0))
    [alarm] = await _alarms(h)
    for value in [30.0, 60.0] * 10:  # below 35 for less than the minute it takes to clear, then back between
        clock.advance(seconds=30)
        await _readings(h, clock, ("AQ-3", value))
    [alarm] = await _alarms(h)
    assert alarm["status"] == "10" and len(alarm["events"]) == 1  # one event: opened, never flapped


async def test_a_silent_sensor_is_down_until_it_reports_again(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(data_dir=tmp_path, environment=EnvironmentSettings(measures=(PM25,)))
    platform = Platform.open(settings, clock=clock)
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        h = await _harness(app, platform, settings)
        async with h.client:
            await _sensor(h, "AQ-4", agency="disaster", by="disaster", interval_s=60)
            await _readings(h, clock, ("AQ-4", 10.0), by="disaster")
            clock.advance(seconds=119)
            assert await platform.environment.check() == 0  # one report late is not down
    clock.advance(seconds=2)

    # A restart in between loses nothing: the due time is in the store.
    platform = Platform.open(settings, clock=clock)
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        h = await _harness(app, platform, settings)
        async with h.client:
            await platform.environment.check()  # the workers' round does it too, at start: one way or the other
            assert await platform.environment.check() == 0  # known to be down already: once
            await platform.environment.flush()
            await h.settle()
            [down] = await _alarms(h, "MTSUC220")
            assert (down["status"], down["place"], down["code"]) == ("10", "air station AQ-4", "MTSUC220")
            assert down["content"] == "sensor silent: last reading 2026-11-26 09:00:00 UTC; expected every 60 s"
            assert [(n["recipient"], n["message"]) for n in down["notifications"]] == [
                ("disaster", f"Facility fault at air station AQ-4: {down['content']}")]
            listed = (await h.client.get("/api/v1/sensors", headers=h.auth("police"))).json()["sensors"]
            assert [(s["id"], s["down"]) for s in listed] == [("AQ-4", True)]

            clock.advance(seconds=30)
            await _readings(h, clock, ("AQ-4", 11.0), by="disaster")
            [down] = await _alarms(h, "MTSUC220")
            assert down["status"] == "50"
            assert down["notifications"][-1]["message"] == "Facility back in service: air station AQ-4"


async def _harness(app: Any, platform: Platform, settings: Settings) -> Harness:
    keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://citylink.test")
    return Harness(platform, client, keys)


async def test_an_alarm_decided_while_intake_fails_is_raised_later_and_once(
        harness: Harness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    await _sensor(h, "AQ-5")
    submit = h.platform.environment._submit
    failures = []

    async def intake_down(event: Event, *, received_by: str, correlation_id: str) -> Accepted:
        failures.append(event.event_id)
        raise ConnectionError("intake unavailable")

    monkeypatch.setattr(h.platform.environment, "_submit", intake_down)
    await _readings(h, clock, ("AQ-5", 200.0))
    with pytest.raises(ConnectionError):
        await _hold(h, clock, 120, ("AQ-5", 200.0))
    assert failures and await _alarms(h) == []

    monkeypatch.setattr(h.platform.environment, "_submit", submit)
    await h.platform.environment.flush()  # this, or the background sender woken meanwhile, hands it over
    assert await h.platform.environment.flush() == 0
    await h.settle()
    [alarm] = await _alarms(h)
    assert alarm["grade"] == "10" and len(alarm["events"]) == 1


async def test_readings_are_idempotent_and_bad_ones_are_refused_by_field(harness: Harness, clock: FakeClock) -> None:
    h = harness
    await _sensor(h, "AQ-6", agency="disaster", by="disaster")
    first = await _readings(h, clock, ("AQ-6", 12.0), by="disaster")
    again = await _readings(h, clock, ("AQ-6", 12.0), by="disaster")
    assert (first["stored"], again["stored"], again["duplicates"]) == (1, 0, 1)

    def reading(**fields: Any) -> dict[str, Any]:
        return {"readings": [{"sensor_id": "AQ-6", "time": clock.now.isoformat(), "values": {"pm25": 1.0},
                              **fields}]}

    async def refused(body: dict[str, Any] | str, by: str = "disaster") -> tuple[int, str | None]:
        headers = {**h.auth(by), "Content-Type": "application/json"}
        raw = body if isinstance(body, str) else json.dumps(body)
        response = await h.client.post("/api/v1/sensors/readings", headers=headers, content=raw)
        errors = response.json().get("errors") or [{}]
        return response.status_code, errors[0].get("field")

    assert await refused(reading(sensor_id="AQ-404")) == (422, "/readings/0/sensor_id")
    assert await refused(reading(), by="police") == (403, "/readings/0/sensor_id")  # not its sensor
    assert await refused(reading(time="2026-11-26T09:00:00")) == (422, "/readings/0/time")  # no UTC offset
    assert await refused(reading(values={})) == (422, "/readings/0/values")
    assert await refused(reading(values={"PM 2.5": 3.0})) == (422, "/readings/0/values/PM 2.5")
    assert (await refused('{"readings": [{"sensor_id": "AQ-6", "time": "2026-11-26T09:00:00Z", '
                          '"values": {"pm25": NaN}}]}'))[0] == 422
    assert await refused({"readings": []}) == (422, "/readings")

    bad_sensor = await h.client.put("/api/v1/sensors/AQ-7", headers=h.auth("centre"), json={
        "name": "x", "location": {"lon": 200, "lat": 60}, "interval_s": 10})
    assert (bad_sensor.status_code, bad_sensor.json()["errors"][0]["field"]) == (422, "/location/lon")
    other = await h.client.put("/api/v1/sensors/AQ-6", headers=h.auth("police"), json={
        "name": "mine now", "location": {"lon": SPOT[0], "lat": SPOT[1]}, "interval_s": 10})
    assert other.status_code == 403

    # Taken out of service: its readings are refused from then on.
    assert (await h.client.delete("/api/v1/sensors/AQ-6", headers=h.auth("disaster"))).status_code == 204
    assert await refused(reading()) == (422, "/readings/0/sensor_id")
    audit = (await h.client.get("/api/v1/audit", params={"action": "sensor.changed"}, headers=h.auth("centre")))
    assert [(e["actor"], e["detail"]) for e in audit.json()] == [
        ("disaster", {"registered": True, "agency": "disaster", "interval_s": 10.0}),
        ("disaster", {"removed": True})]


def test_the_default_thresholds_are_korean_alert_levels() -> None:
    measures = {m.name: m for m in EnvironmentSettings().measures}
    assert [(lv.raise_at, lv.clear_below, lv.raise_after_s) for lv in measures["pm10"].levels] == [
        (150, 100, 7200), (300, 150, 7200)]
    assert [(lv.raise_at, lv.clear_below) for lv in measures["pm25"].levels] == [(75, 35), (150, 75)]
    assert [lv.raise_at for lv in measures["o3"].levels] == [0.12, 0.3, 0.5]
    assert {measures[m].code for m in ("temperature_c", "rainfall_mm_3h")} == {"WESEN110"}
    assert timedelta(seconds=measures["rainfall_mm_3h"].levels[0].raise_after_s) == timedelta(0)


async def test_an_alarm_ended_by_an_operator_is_not_updated_again_and_the_next_rise_opens_a_new_one(
        harness: Harness, clock: FakeClock) -> None:
    h = harness
    await _sensor(h, "AQ-8")
    await _sensor(h, "AQ-9", east_m=300)
    await _hold(h, clock, 130, ("AQ-8", 90.0))
    [alarm] = await _alarms(h)
    ended = await h.client.post(f"/api/v1/incidents/{alarm['id']}/status", headers=h.auth("centre"),
                                json={"status": "91", "content": "checked: a bonfire, put out"})
    assert ended.status_code == 201, ended.text
    await h.settle()

    await _hold(h, clock, 130, ("AQ-8", 90.0), ("AQ-9", 95.0))
    alarms = await _alarms(h)
    assert sorted(a["status"] for a in alarms) == ["10", "91"]
    [fresh] = [a for a in alarms if a["status"] == "10"]
    assert _items(fresh["events"][0])["SENSORS"] == "AQ-9,AQ-8"
