"""The mobile units on the situation board: read when the board starts, one marker each (a letter per kind, a colour
per state) with a tooltip, moved, restyled, added and removed live from the feed; an agency sees only its own."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import ESPLANADI, KAMPPI, RAUTATIENTORI, SENAATINTORI, Pages, WebServer


def _unit_id(tag: str) -> str:
    return f"web-{tag}-{uuid.uuid4().hex[:10]}"


def _put(web_server: WebServer, unit_id: str, *, kind: str, name: str, state: str, at: tuple[float, float],
         who: str = "fire") -> dict[str, Any]:
    response = httpx.put(f"{web_server.base}/api/v1/units/{unit_id}", headers=web_server.auth(who), timeout=10,
                         json={"kind": kind, "name": name, "state": state, "location": {"lon": at[0], "lat": at[1]}})
    assert response.status_code in (200, 201), response.text
    unit: dict[str, Any] = response.json()
    return unit


def _patch(web_server: WebServer, unit_id: str, body: dict[str, Any], *, who: str = "fire") -> dict[str, Any]:
    response = httpx.patch(f"{web_server.base}/api/v1/units/{unit_id}", headers=web_server.auth(who), json=body,
                           timeout=10)
    assert response.status_code == 200, response.text
    unit: dict[str, Any] = response.json()
    return unit


def _delete(web_server: WebServer, unit_id: str, *, who: str = "fire") -> None:
    response = httpx.delete(f"{web_server.base}/api/v1/units/{unit_id}", headers=web_server.auth(who), timeout=10)
    assert response.status_code == 204, response.text


def _marker(page: Page, unit_id: str) -> Locator:
    return page.locator(f'[data-testid=unit-marker][data-id="{unit_id}"]')


def _icon(page: Page, unit_id: str) -> Locator:
    """Leaflet's marker element around the unit's square: it carries the position as a CSS transform."""
    return page.locator(f'.leaflet-marker-icon:has([data-testid=unit-marker][data-id="{unit_id}"])')


def _on_map(page: Page, unit_id: str) -> dict[str, Any] | None:
    where: dict[str, Any] | None = page.evaluate("id => window.__citylinkBoard.unit(id)", unit_id)
    return where


def test_units_are_drawn_then_moved_restyled_added_and_removed_live(pages: Pages, web_server: WebServer) -> None:
    engine, ambulance, patrol = _unit_id("engine"), _unit_id("amb"), _unit_id("patrol")
    _put(web_server, engine, kind="fire_engine", name="Engine 31", state="available", at=KAMPPI)
    _put(web_server, ambulance, kind="ambulance", name="Medic 7", state="busy", at=SENAATINTORI)

    page = pages.board("operator")
    page.evaluate("window.__sameDocument = true")  # gone if anything below reloaded the page

    # Both placed units are on the map: a square with the kind's letter, coloured by state, in the units' pane.
    expect(_marker(page, engine)).to_have_count(1)
    expect(_marker(page, ambulance)).to_have_count(1)
    expect(_marker(page, engine)).to_have_class("unit unit-fire_engine unit-available")
    expect(_marker(page, engine)).to_have_attribute("data-state", "available")
    expect(_marker(page, engine)).to_have_text("F")
    expect(_marker(page, ambulance)).to_have_class("unit unit-ambulance unit-busy")
    expect(_marker(page, ambulance)).to_have_text("A")
    assert _icon(page, engine).evaluate("el => el.closest('.leaflet-pane').classList.contains('leaflet-units-pane')")
    # Below the new and selected incidents (the marker pane), above the cameras.
    z = page.evaluate("""() => ['units', 'cameras', 'marker'].map(
        p => Number(getComputedStyle(document.querySelector(`.leaflet-${p}-pane`)).zIndex))""")
    assert z[1] < z[0] < z[2], z
    before = _on_map(page, engine)
    assert before is not None
    assert (round(before["lon"], 6), round(before["lat"], 6)) == KAMPPI
    assert (float(_marker(page, engine).get_attribute("data-lon") or 0),
            float(_marker(page, engine).get_attribute("data-lat") or 0)) == KAMPPI

    # The tooltip: name, kind, state and how old the position is.
    _icon(page, engine).dispatch_event("mouseover")
    tooltip = page.locator(".leaflet-tooltip.unit-tooltip")
    expect(tooltip).to_be_visible()
    for text in ("Engine 31", "Fire engine", "available", "position just now"):
        expect(tooltip).to_contain_text(text)
    _icon(page, engine).dispatch_event("mouseout")
    expect(tooltip).to_have_count(0)

    # The legend lists the kinds and the states.
    legend = page.get_by_test_id("legend")
    for text in ("Units", "Fire engine", "Ambulance", "Patrol car", "available", "dispatched", "busy", "off duty"):
        expect(legend).to_contain_text(text)

    # The engine is sent: it moves and turns to "dispatched" on the open board.
    transform = _icon(page, engine).evaluate("el => el.style.transform")
    _patch(web_server, engine, {"location": {"lon": ESPLANADI[0], "lat": ESPLANADI[1]}, "state": "dispatched"})
    expect(_marker(page, engine)).to_have_attribute("data-state", "dispatched")
    expect(_marker(page, engine)).to_have_class("unit unit-fire_engine unit-dispatched")
    expect(_marker(page, engine)).to_have_attribute("data-lon", str(ESPLANADI[0]))
    expect(_marker(page, engine)).to_have_attribute("data-lat", str(ESPLANADI[1]))
    moved = _on_map(page, engine)
    assert moved is not None and (round(moved["lon"], 6), round(moved["lat"], 6)) == ESPLANADI
    assert moved["state"] == "dispatched"
    assert _icon(page, engine).evaluate("el => el.style.transform") != transform, "the marker did not move"
    # A state alone restyles it in place; off duty is greyed.
    _patch(web_server, ambulance, {"state": "off_duty"})
    expect(_marker(page, ambulance)).to_have_class("unit unit-ambulance unit-off_duty")
    opacity = _marker(page, ambulance).evaluate("el => Number(getComputedStyle(el).opacity)")
    assert opacity < 1

    # A unit registered while the board is open appears on it.
    _put(web_server, patrol, kind="patrol_car", name="Rescue car 3", state="available", at=RAUTATIENTORI)
    expect(_marker(page, patrol)).to_have_class("unit unit-patrol_car unit-available")
    expect(_marker(page, patrol)).to_have_text("P")

    # Removed units go.
    _delete(web_server, ambulance)
    expect(_marker(page, ambulance)).to_have_count(0)
    assert _on_map(page, ambulance) is None
    expect(_marker(page, engine)).to_have_count(1)

    # The legend's toggle hides the units and shows them again.
    toggle = page.get_by_test_id("units-toggle")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    expect(page.locator("[data-testid=unit-marker]")).to_have_count(0)
    toggle.check()
    expect(_marker(page, engine)).to_have_count(1)
    expect(_marker(page, patrol)).to_have_count(1)

    # In Korean: the legend, the letters and the tooltip.
    page.get_by_test_id("lang-switch").click()
    expect(legend).to_contain_text("출동 차량")
    expect(legend).to_contain_text("소방차")
    expect(_marker(page, engine)).to_have_text("소")
    _icon(page, engine).dispatch_event("mouseover")
    expect(tooltip).to_contain_text("출동")
    expect(tooltip).to_contain_text("위치 방금")

    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    for unit_id in (engine, patrol):
        _delete(web_server, unit_id)


def test_an_agency_sees_only_its_own_units(pages: Pages, web_server: WebServer) -> None:
    engine = _unit_id("engine")
    _put(web_server, engine, kind="fire_engine", name="Engine 41", state="available", at=KAMPPI)

    police = pages.board("police")
    fire = pages.board("fire")
    expect(_marker(fire, engine)).to_have_count(1)
    expect(_marker(police, engine)).to_have_count(0)
    assert _on_map(police, engine) is None

    # Nor does the feed tell police of the fire engine's moves (the fire board hears of it first).
    _patch(web_server, engine, {"location": {"lon": ESPLANADI[0], "lat": ESPLANADI[1]}, "state": "dispatched"})
    expect(_marker(fire, engine)).to_have_attribute("data-state", "dispatched")
    police.wait_for_timeout(500)
    expect(_marker(police, engine)).to_have_count(0)

    # Police's own patrol car is on their board, live.
    patrol = _unit_id("patrol")
    _put(web_server, patrol, kind="patrol_car", name="Patrol 12", state="available", at=SENAATINTORI, who="police")
    expect(_marker(police, patrol)).to_have_count(1)
    expect(_marker(fire, patrol)).to_have_count(0)
    _delete(web_server, patrol, who="police")
    expect(_marker(police, patrol)).to_have_count(0)
    _delete(web_server, engine)
    expect(_marker(fire, engine)).to_have_count(0)
