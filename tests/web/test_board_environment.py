"""Environment sensors on the situation board: a dot per sensor on the map coloured by its state, turning red when
its readings raise an alarm, and the alarm's panel drawing each sensor's values against the measure's levels, kept
current as the alarm changes and when it is lifted."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import ESPLANADI, KAMPPI, Pages, WebServer, publish_screenshot

MEASURE = "rainfall_mm_3h"  # its rain_advisory raises at 60 mm with no wait: one reading opens the alarm
# A path of two or more points, as the chart draws a sensor's line.
LINE = re.compile(r"^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+)+$")


def _register(web_server: WebServer, sensor_id: str, name: str, at: tuple[float, float]) -> None:
    # Reporting every 10 minutes: no sensor goes "down" (grey) while the test runs.
    response = httpx.put(f"{web_server.base}/api/v1/sensors/{sensor_id}", headers=web_server.auth("centre"),
                         json={"name": name, "location": {"lon": at[0], "lat": at[1]}, "interval_s": 600}, timeout=10)
    assert response.status_code == 201, response.text


def _readings(web_server: WebServer, at: datetime, values: dict[str, float]) -> None:
    body = {"readings": [{"sensor_id": sensor_id, "time": at.isoformat(), "values": {MEASURE: value}}
                         for sensor_id, value in values.items()]}
    response = httpx.post(f"{web_server.base}/api/v1/sensors/readings", headers=web_server.auth("centre"), json=body,
                          timeout=10)
    assert response.status_code == 200, response.text


def _remove(web_server: WebServer, sensor_id: str) -> None:
    response = httpx.delete(f"{web_server.base}/api/v1/sensors/{sensor_id}", headers=web_server.auth("centre"),
                            timeout=10)
    assert response.status_code in (204, 404), response.text


def _alarm(web_server: WebServer, place: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """The open rainfall alarm located at `place` (its worst sensor), once intake has opened it."""
    deadline = time.monotonic() + timeout_s
    while True:
        listed = httpx.get(f"{web_server.base}/api/v1/incidents", params={"code": "WESEN110"},
                           headers=web_server.auth("centre"), timeout=10).json()
        found = [i for i in listed if i["place"] == place and not i["ended_at"]]
        if found:
            incident: dict[str, Any] = found[0]
            return incident
        assert time.monotonic() < deadline, f"no WESEN110 alarm at {place} opened"
        time.sleep(0.1)


def _marker(page: Page, sensor_id: str) -> Locator:
    return page.locator(f'[data-testid=sensor-marker][data-id="{sensor_id}"]')


def _sensor_state(page: Page, sensor_id: str) -> dict[str, Any] | None:
    where: dict[str, Any] | None = page.evaluate("id => window.__citylinkBoard.sensor(id)", sensor_id)
    return where


def test_a_rainfall_alarm_turns_its_sensors_red_and_draws_their_readings_against_the_levels(
        pages: Pages, web_server: WebServer, artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    gauge_a, gauge_b = f"RG-{tag}-A", f"RG-{tag}-B"
    names = {gauge_a: f"Esplanadi rain gauge {tag}", gauge_b: f"Kamppi rain gauge {tag}"}
    _register(web_server, gauge_a, names[gauge_a], ESPLANADI)
    _register(web_server, gauge_b, names[gauge_b], KAMPPI)
    try:
        now = datetime.now(UTC)
        # Rain building up over the last minutes, still below the advisory's 60 mm.
        for minutes, (a, b) in zip((6, 4, 2), ((20.0, 15.0), (35.0, 28.0), (52.0, 41.0)), strict=True):
            _readings(web_server, now - timedelta(minutes=minutes), {gauge_a: a, gauge_b: b})

        page = pages.board("operator")
        # Both gauges are on the map, green: reporting, no alarm.
        for gauge in (gauge_a, gauge_b):
            expect(_marker(page, gauge)).to_have_attribute("data-state", "ok")
        assert _marker(page, gauge_a).evaluate(
            "el => el.closest('.leaflet-pane').classList.contains('leaflet-sensors-pane')")
        legend = page.get_by_test_id("legend")
        for text in ("Sensors", "normal", "in alarm", "not reporting"):
            expect(legend).to_contain_text(text)

        # Both pass 60 mm: one WESEN110 alarm opens, located at the worse gauge, and the dots turn red live.
        _readings(web_server, now, {gauge_a: 75.0, gauge_b: 64.0})
        alarm = _alarm(web_server, names[gauge_a])
        assert alarm["sender"]["system"] == "ENV"
        for gauge in (gauge_a, gauge_b):
            expect(_marker(page, gauge)).to_have_attribute("data-state", "alarm")
            assert (_sensor_state(page, gauge) or {}).get("state") == "alarm"
        red = _marker(page, gauge_a).evaluate("el => getComputedStyle(el).backgroundColor")
        assert red == "rgb(201, 42, 42)", red
        icon = page.locator(f'.leaflet-marker-icon:has([data-testid=sensor-marker][data-id="{gauge_a}"])')
        icon.dispatch_event("mouseover")
        tooltip = page.locator(".leaflet-tooltip.sensor-tooltip")
        for text in (names[gauge_a], "Rainfall (3 h): 75 mm", "rain advisory", "in alarm"):
            expect(tooltip).to_contain_text(text)
        icon.dispatch_event("mouseout")

        # The alarm's panel: one line per gauge over its four readings, the two levels, the opening marked.
        row = f'[data-testid=incident-row][data-id="{alarm["id"]}"]'
        page.wait_for_selector(row)
        page.click(row)
        chart = page.locator(f"svg.env-chart[data-measure={MEASURE}]")
        expect(chart).to_have_count(1)
        expect(chart.locator("title")).to_contain_text("Rainfall (3 h)")
        lines = chart.locator("path.env-line")
        expect(lines).to_have_count(2)
        assert sorted(lines.evaluate_all("ps => ps.map(p => p.dataset.sensor)")) == sorted((gauge_a, gauge_b))
        for gauge in (gauge_a, gauge_b):
            line = chart.locator(f'path.env-line[data-sensor="{gauge}"]')
            expect(line).to_have_attribute("data-points", "4")
            expect(line).to_have_attribute("d", LINE)
        strokes = lines.evaluate_all("ps => ps.map(p => p.getAttribute('stroke'))")
        assert len(set(strokes)) == 2, f"the gauges share a colour: {strokes}"
        for level in ("rain_advisory", "rain_warning"):
            expect(chart.locator(f'line.env-threshold[data-level="{level}"]')).to_have_count(1)
        expect(chart).to_contain_text("rain advisory")
        expect(chart.locator("line.env-opened")).to_have_count(1)
        # The advisory's line lies between the two gauges' latest values (75 above it, 64 above it, 52 below).
        advisory_y = float(chart.locator('line.env-threshold[data-level="rain_advisory"]').get_attribute("y1") or 0)
        warning_y = float(chart.locator('line.env-threshold[data-level="rain_warning"]').get_attribute("y1") or 0)
        assert warning_y < advisory_y, "90 mm is drawn above 60 mm"
        expect(page.get_by_test_id("env-legend-item")).to_have_count(2)
        expect(page.get_by_test_id("panel-environment")).to_contain_text(names[gauge_a])

        page.wait_for_timeout(900)  # the fly-to animation
        shot = artifacts / "board-environment.png"
        page.screenshot(path=str(shot))
        assert publish_screenshot(shot, "board-environment.png").stat().st_size < 1_500_000

        # Gauge A reaches the warning: the alarm changes level and the open chart is drawn again, a point longer.
        # (Now, not ahead: the series runs until the present.)
        _readings(web_server, datetime.now(UTC), {gauge_a: 95.0, gauge_b: 66.0})
        expect(chart.locator(f'path.env-line[data-sensor="{gauge_a}"]')).to_have_attribute("data-points", "5")
        expect(chart.locator(f'path.env-line[data-sensor="{gauge_b}"]')).to_have_attribute("data-points", "5")

        # In Korean: the levels' names and the legend.
        page.get_by_test_id("lang-switch").click()
        expect(page.locator("svg.env-chart")).to_contain_text("호우주의보")
        expect(legend).to_contain_text("환경 센서")
        page.get_by_test_id("lang-switch").click()

        # The legend's toggle hides the gauges and shows them again.
        toggle = page.get_by_test_id("sensors-toggle")
        expect(toggle).to_be_checked()
        toggle.uncheck()
        expect(page.locator("[data-testid=sensor-marker]")).to_have_count(0)
        assert (_sensor_state(page, gauge_a) or {}).get("shown") is False
        toggle.check()
        expect(_marker(page, gauge_a)).to_have_count(1)

        # The gauges are taken out of service: the alarm is lifted, its end marked on the chart, the dots gone.
        _remove(web_server, gauge_a)
        _remove(web_server, gauge_b)
        expect(page.locator("svg.env-chart line.env-ended")).to_have_count(1, timeout=10_000)
        expect(_marker(page, gauge_a)).to_have_count(0)
        assert _sensor_state(page, gauge_b) is None
    finally:
        _remove(web_server, gauge_a)
        _remove(web_server, gauge_b)


def test_an_incident_that_is_not_an_alarm_of_the_sensors_has_no_chart(pages: Pages, web_server: WebServer) -> None:
    # A rainfall alarm sent in by another system (not citylink's own sensors): no series to draw.
    incident_id = web_server.post_event("WESEN110", ESPLANADI, sender="disaster", place="Esplanadi",
                                        items=[{"key": "MEASURE", "val": MEASURE}])["incident_id"]
    page = pages.board("operator")
    row = f'[data-testid=incident-row][data-id="{incident_id}"]'
    page.wait_for_selector(row)
    page.click(row)
    expect(page.get_by_test_id("panel-name")).to_be_visible()
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("panel-environment")).to_be_hidden()
    expect(page.locator("svg.env-chart")).to_have_count(0)
