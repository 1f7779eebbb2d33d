"""The incident's plans on the situation board: the dispatch plan (ranked units and stations, their routes, the
signals and cameras on the fastest, hydrants and hazards at the scene) and the escape-route cordon (reachable
roads, exits, the cameras to watch next), drawn on the map and listed in the panel, gone with the selection."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import (
    ESPLANADI,
    KAMPPI,
    RAUTATIENTORI,
    SENAATINTORI,
    Pages,
    WebServer,
    publish_screenshot,
)

# Plans are worked out after the 201 (the first one of the server reads the road network, about a second).
PLAN_TIMEOUT_S = 60.0
# A fire in central Helsinki, between Kamppi and the Esplanadi, and the engines a few hundred metres off.
FIRE_SCENE = (24.9410, 60.1680)
OFF_SHORE = (24.9450, 60.1200)
ENGINES = {"web-e11": ("Engine 11", KAMPPI), "web-e12": ("Engine 12", ESPLANADI)}


def _row(incident_id: str) -> str:
    return f'[data-testid=incident-row][data-id="{incident_id}"]'


def _open_panel(page: Page, incident_id: str) -> None:
    page.wait_for_selector(_row(incident_id))
    page.click(_row(incident_id))
    expect(page.get_by_test_id("panel")).to_be_visible()
    expect(page.get_by_test_id("panel-name")).to_be_visible()


def _min_sec(seconds: float) -> str:
    """m:ss as the board shows it (halves round up, as JavaScript's Math.round does)."""
    total = max(0, math.floor(seconds + 0.5))
    return f"{total // 60}:{total % 60:02d}"


def _put_engines(web_server: WebServer, state: str) -> None:
    for unit_id, (name, (lon, lat)) in ENGINES.items():
        response = httpx.put(f"{web_server.base}/api/v1/units/{unit_id}", headers=web_server.auth("fire"), timeout=10,
                             json={"kind": "fire_engine", "name": name, "location": {"lon": lon, "lat": lat},
                                   "state": state})
        assert response.status_code in (200, 201), response.text


def _plan(detail: dict[str, Any], kind: str) -> dict[str, Any] | None:
    plan: dict[str, Any] | None = (detail.get("plans") or {}).get(kind)
    return plan


def test_a_scene_off_the_road_network_gets_a_note_instead_of_routes(pages: Pages, web_server: WebServer) -> None:
    _put_engines(web_server, "off_duty")
    # Out on the ice south of the city: no road to place the scene on, so nothing can be routed to it.
    incident_id = web_server.post_event("119UC001", OFF_SHORE, sender="fire", place="Ice off Eira")["incident_id"]
    dispatch = _plan(web_server.wait_for(incident_id, lambda d: bool(_plan(d, "dispatch")),
                                         timeout_s=PLAN_TIMEOUT_S), "dispatch")
    assert dispatch is not None, "no dispatch plan on the 119 incident"
    assert dispatch["ranked"] == []
    assert dispatch["note"]

    page = pages.board("operator")
    _open_panel(page, incident_id)
    expect(page.get_by_test_id("plan-dispatch")).to_be_visible()
    expect(page.get_by_test_id("dispatch-note")).to_have_text(dispatch["note"])
    expect(page.get_by_test_id("dispatch-unit")).to_have_count(0)
    expect(page.locator("path.plan-route")).to_have_count(0)
    # Hydrants and hazards at the scene are there whether or not anything can be sent.
    expect(page.locator("path.plan-hydrant, path.plan-hazard")).to_have_count(len(dispatch.get("nearby") or []))


def test_the_dispatch_plan_draws_routes_signals_and_hydrants_and_lists_the_units(
        pages: Pages, web_server: WebServer, artifacts: Path) -> None:
    _put_engines(web_server, "available")
    fire_id = web_server.post_event("119UC001", FIRE_SCENE, sender="fire", place="Kluuvi")["incident_id"]
    other_id = web_server.post_event("TUATR100", SENAATINTORI, sender="police", place="Senaatintori")["incident_id"]
    detail = web_server.wait_for(fire_id, lambda d: bool((_plan(d, "dispatch") or {}).get("ranked")),
                                 timeout_s=PLAN_TIMEOUT_S)
    dispatch = _plan(detail, "dispatch")
    assert dispatch is not None and dispatch["ranked"], f"no engine ranked: {dispatch}"
    ranked = dispatch["ranked"]
    best = ranked[0]
    assert {u["id"] for u in ranked} <= {f"unit:{u}" for u in ENGINES} | {"osm:r167018"}  # + Erottaja station

    page = pages.board("operator")
    _open_panel(page, fire_id)

    # The panel: the ranked engines, fastest first, each with its ETA as m:ss and what its route passes.
    expect(page.get_by_test_id("plan-dispatch")).to_be_visible()
    units = page.get_by_test_id("dispatch-unit")
    expect(units).to_have_count(len(ranked))
    assert units.evaluate_all("rows => rows.map(r => r.dataset.id)") == [u["id"] for u in ranked]
    expect(page.get_by_test_id("dispatch-eta")).to_have_text([_min_sec(u["eta_s"]) for u in ranked])
    expect(units.first).to_contain_text(best["name"])
    expect(units.first).to_contain_text(f"{best['distance_m'] / 1000:.2f} km")
    expect(units.first).to_contain_text(f"{len(best['signals'])} signals")
    # The signal-priority plan of the fastest: each signal with its passing time.
    signals = best["signals"]
    expect(page.get_by_test_id("dispatch-signal")).to_have_count(len(signals))
    if signals:
        expect(page.get_by_test_id("dispatch-signal").first).to_contain_text(f"+{_min_sec(signals[0]['eta_s'])}")
    nearby = dispatch.get("nearby") or []
    expect(page.get_by_test_id("nearby-item")).to_have_count(len(nearby))

    # The map: the fastest route bold, the others dashed, where each starts, its signals, cameras, hydrants.
    expect(page.locator("path.plan-route-best")).to_have_count(1)
    expect(page.locator("path.plan-route-alt")).to_have_count(len(ranked) - 1)
    expect(page.locator("[data-testid=plan-unit]")).to_have_count(len(ranked))
    expect(page.locator(f'[data-testid=plan-unit][data-id="{best["id"]}"]')).to_contain_text(_min_sec(best["eta_s"]))
    expect(page.locator("path.plan-signal")).to_have_count(len(signals))
    expect(page.locator("path.plan-camera")).to_have_count(len(best["cameras"]))
    expect(page.locator("path.plan-hydrant, path.plan-hazard")).to_have_count(len(nearby))
    if signals:
        page.locator("path.plan-signal").first.dispatch_event("mouseover")
        expect(page.locator(".leaflet-tooltip")).to_contain_text(f"+{_min_sec(signals[0]['eta_s'])}")
    if len(ranked) > 1:
        assert page.locator("path.plan-route-alt").first.get_attribute("stroke-dasharray"), "the others are dashed"

    page.wait_for_timeout(900)  # the fly-to animation
    shot = artifacts / "dispatch-plan.png"
    page.screenshot(path=str(shot))
    assert publish_screenshot(shot, "dispatch-plan.png").stat().st_size < 1_500_000

    # Another incident selected: everything drawn for the fire goes.
    _open_panel(page, other_id)
    expect(page.get_by_test_id("plan-dispatch")).to_be_hidden()
    for drawn in ("path.plan-route", "[data-testid=plan-unit]", "path.plan-signal", "path.plan-camera",
                  "path.plan-hydrant", "path.plan-hazard"):
        expect(page.locator(drawn)).to_have_count(0)
    # Back to the fire, then the panel closed: drawn again, then gone again.
    _open_panel(page, fire_id)
    expect(page.locator("path.plan-route-best")).to_have_count(1)
    page.get_by_test_id("panel-close").click()
    expect(page.get_by_test_id("panel")).to_be_hidden()
    expect(page.locator("path.plan-route")).to_have_count(0)
    expect(page.locator("[data-testid=plan-unit]")).to_have_count(0)


def test_the_cordon_draws_reachable_roads_and_exits_adds_a_camera_to_watch_and_follows_a_sighting(
        pages: Pages, web_server: WebServer) -> None:
    occurrence = f"web-plans-{uuid.uuid4().hex[:12]}"
    incident_id = web_server.post_event("112UC001", KAMPPI, sender="police", place="Simonkatu",
                                        occurrence=occurrence,
                                        items=[{"key": "CRIME_TYPE", "val": "robbery"}])["incident_id"]
    detail = web_server.wait_for(incident_id, lambda d: bool(_plan(d, "cordon")) and bool(d["cameras"]),
                                 timeout_s=PLAN_TIMEOUT_S)
    cordon = _plan(detail, "cordon")
    assert cordon is not None, "no cordon on the 112 incident"
    exits, watch = cordon["exits"], cordon["cameras"]
    assert exits and watch, f"a 3-minute cordon in central Helsinki has exits and cameras on them: {cordon}"

    page = pages.board("operator")
    _open_panel(page, incident_id)
    expect(page.get_by_test_id("plan-cordon")).to_be_visible()
    expect(page.get_by_test_id("cordon-summary")).to_contain_text(f"{cordon['minutes']:g} min")
    expect(page.get_by_test_id("cordon-exit")).to_have_count(len(exits))
    rows = page.get_by_test_id("cordon-camera")
    expect(rows).to_have_count(len(watch))
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.id)") == [c["id"] for c in watch]
    expect(rows.first).to_contain_text(_min_sec(watch[0]["entered_s"]))

    # The map: the reachable roads (read from GET .../cordon), the exits, the cameras to watch.
    expect(page.locator("path.plan-reach")).not_to_have_count(0)
    expect(page.locator("path.plan-exit")).to_have_count(len(exits))
    expect(page.locator("path.plan-watch")).to_have_count(len(watch))

    # Adding a camera to watch puts it in the incident's selection.
    selected = {c["id"] for c in detail["cameras"]}
    pick = next((c["id"] for c in watch if c["id"] not in selected), None)
    assert pick is not None, "every camera to watch is already selected"
    page.locator(f'[data-testid=cordon-camera][data-id="{pick}"] [data-testid=cordon-add-camera]').click()
    expect(page.locator(f'[data-testid=panel-camera][data-id="{pick}"]')).to_have_count(1)
    expect(page.locator(f'[data-testid=cordon-camera][data-id="{pick}"] [data-testid=cordon-camera-selected]')) \
        .to_have_count(1)
    assert pick in [c["id"] for c in web_server.incident(incident_id)["cameras"]]

    # The suspect is sighted elsewhere: the cordon is worked out again and the open panel follows, live.
    expect(page.get_by_test_id("plan-cordon")).to_have_attribute("data-computed", cordon["computed_at"])
    web_server.post_event("112UC001", RAUTATIENTORI, sender="police", place="Rautatientori", status="40",
                          occurrence=occurrence, items=[{"key": "CRIME_TYPE", "val": "robbery"}])
    moved = _plan(web_server.wait_for(
        incident_id, lambda d: (_plan(d, "cordon") or {}).get("computed_at") not in (None, cordon["computed_at"]),
        timeout_s=PLAN_TIMEOUT_S), "cordon")
    assert moved is not None and moved["computed_at"] != cordon["computed_at"], "no cordon after the sighting"
    assert (moved["from"]["lon"], moved["from"]["lat"]) == RAUTATIENTORI
    expect(page.get_by_test_id("plan-cordon")).to_have_attribute("data-computed", moved["computed_at"])
    expect(page.get_by_test_id("cordon-exit")).to_have_count(len(moved["exits"]))
    expect(page.locator("path.plan-exit")).to_have_count(len(moved["exits"]))
    expect(page.locator("path.plan-watch")).to_have_count(len(moved["cameras"]))
    expect(page.locator("path.plan-reach")).not_to_have_count(0)

    page.get_by_test_id("panel-close").click()
    for drawn in ("path.plan-reach", "path.plan-exit", "path.plan-watch"):
        expect(page.locator(drawn)).to_have_count(0)


def test_an_auditor_sees_the_cordon_but_cannot_add_cameras(pages: Pages, web_server: WebServer) -> None:
    incident_id = web_server.post_event("112UC001", SENAATINTORI, sender="police", place="Senaatintori",
                                        items=[{"key": "CRIME_TYPE", "val": "robbery"}])["incident_id"]
    cordon = _plan(web_server.wait_for(incident_id, lambda d: bool(_plan(d, "cordon")), timeout_s=PLAN_TIMEOUT_S),
                   "cordon")
    assert cordon is not None
    page = pages.board("auditor")
    _open_panel(page, incident_id)
    expect(page.get_by_test_id("plan-cordon")).to_be_visible()
    expect(page.get_by_test_id("cordon-camera")).to_have_count(len(cordon["cameras"]))
    expect(page.get_by_test_id("cordon-add-camera")).to_have_count(0)
