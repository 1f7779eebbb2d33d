"""Each of the core services (and the route plans of 119 and 112), from event in to cameras, grants,
notifications and stream messages out."""

from __future__ import annotations

import json
import logging

import pytest

from citylink.domain.actions import PlanCordon, PlanDispatch
from citylink.domain.agencies import Role
from citylink.domain.events import Event
from citylink.services.base import IncidentView
from citylink.services.registry import default_registry
from citylink.settings import Settings
from citylink.store import agency_repo
from tests.conftest import SPOT, Harness, event_body, offset


async def _stream_types(h: Harness, incident_id: str) -> list[str]:
    return [m.type for m in h.platform.hub._recent if m.data.get("incident_id", m.data.get("id")) == incident_id]


async def test_112_emergency_video(harness: Harness) -> None:
    response = await harness.post_event("police", event_body(items=[{"key": "CRIME_TYPE", "val": "robbery"}]))
    incident_id = response.json()["incident_id"]
    await harness.settle()
    incident = await harness.incident(incident_id)
    # Sees the spot first; then those that can be turned (PTZ, no known direction), by distance; then the rest.
    assert [(c["id"], c["tier"]) for c in incident["cameras"]] == [("sees", 1), ("ptz", 2), ("undirected", 2),
                                                                   ("away", 3)]
    assert incident["cameras"][0]["reason"].startswith("sees the spot")
    assert incident["grants"][0]["agency"] == "police" and incident["grants"][0]["token"]
    assert await _stream_types(harness, incident_id) == ["incident.opened", "cameras.selected", "grant.issued"]


async def test_112_non_violent_report_gets_no_video(harness: Harness) -> None:
    response = await harness.post_event("police", event_body(items=[{"key": "CRIME_TYPE", "val": "noise"}]))
    await harness.settle()
    incident = await harness.incident(response.json()["incident_id"])
    assert incident["cameras"] == [] and incident["grants"] == []


async def test_112_dispatch_gives_patrol_units_the_same_cameras_and_stills(harness: Harness) -> None:
    report = (await harness.post_event("police", event_body())).json()
    await harness.settle()
    dispatch = await harness.post_event("police", event_body(
        "112UC120", at=offset(*SPOT, east_m=30), items=[
            {"key": "UNIT", "val": "patrol-12"}, {"key": "UNIT", "val": "patrol-7"},
            {"key": "IMAGE_URL", "val": "https://cctv.example/snap/1.jpg"},
            {"key": "SUSPECT_IMAGE_URL", "val": "https://cctv.example/suspect/1.jpg"}]))
    assert dispatch.status_code == 201
    await harness.settle()
    original = await harness.incident(report["incident_id"])
    incident = await harness.incident(dispatch.json()["incident_id"])
    assert incident["cameras"] == original["cameras"]
    assert "same cameras as incident" in incident["selection_note"]
    assert sorted(g["agency"] for g in incident["grants"]) == ["police", "police/patrol-12", "police/patrol-7"]
    assert {m["kind"] for m in incident["media"]} == {"scene_snapshot", "suspect_still"}
    streamed = await _stream_types(harness, incident["id"])
    assert streamed[0] == "incident.opened" and streamed.count("grant.issued") == 3

    # A patrol terminal's key sees this incident and its own grant, not the 112 report it was not sent to.
    _, key = harness.platform.db.write_sync(
        lambda s: agency_repo.issue_key(s, "police/patrol-12", Role.AGENCY, now=harness.platform.clock()))
    patrol = {"Authorization": f"Bearer {key}"}
    mine = await harness.client.get(f"/api/v1/incidents/{dispatch.json()['incident_id']}", headers=patrol)
    assert mine.status_code == 200
    assert [g["agency"] for g in mine.json()["grants"]] == ["police/patrol-12"]
    other = await harness.client.get(f"/api/v1/incidents/{report['incident_id']}", headers=patrol)
    assert other.status_code == 404


async def test_operator_added_suspect_still_reaches_the_incident(harness: Harness) -> None:
    dispatch = (await harness.post_event("police", event_body("112UC120"))).json()
    await harness.settle()
    response = await harness.client.post(f"/api/v1/incidents/{dispatch['incident_id']}/media",
                                         json={"kind": "suspect_still", "url": "https://cctv.example/still.jpg"},
                                         headers=harness.auth("centre"))
    assert response.status_code == 201
    incident = await harness.incident(dispatch["incident_id"])
    assert incident["media"][-1]["url"] == "https://cctv.example/still.jpg"


async def test_119_dispatch_grants_fire(harness: Harness) -> None:
    response = await harness.post_event("fire", event_body("119UC001", place="Kaivokatu 1",
                                                           sender={"system": "119", "city": "helsinki"}))
    await harness.settle()
    incident = await harness.incident(response.json()["incident_id"])
    assert incident["cameras"][0]["id"] == "sees"
    assert [g["agency"] for g in incident["grants"]] == ["fire"]
    assert await _stream_types(harness, incident["id"]) == ["incident.opened", "cameras.selected", "grant.issued"]


async def test_disaster_polygon_takes_every_camera_inside_ranked_by_coverage(harness: Harness) -> None:
    corners = [offset(*SPOT, east_m=e, north_m=n) for e, n in [(-100, -100), (100, -100), (100, 100), (-100, 100)]]
    ring = [[lon, lat] for lon, lat in [*corners, corners[0]]]
    response = await harness.post_event("disaster", event_body("DUCDP110", area={"type": "Polygon",
                                                                                 "coordinates": [ring]},
                                                               sender={"system": "DRS", "city": "helsinki"}))
    assert response.status_code == 201, response.text
    await harness.settle()
    incident = await harness.incident(response.json()["incident_id"])
    ids = [c["id"] for c in incident["cameras"]]
    assert set(ids) == {"sees", "ptz", "away"}  # undirected is 120 m south of the spot: outside; far and offline
    assert all("inside the area" in c["reason"] for c in incident["cameras"])
    assert [g["agency"] for g in incident["grants"]] == ["disaster"]
    assert await _stream_types(harness, incident["id"]) == ["incident.opened", "cameras.selected", "grant.issued"]


async def test_disaster_point_and_radius(harness: Harness) -> None:
    response = await harness.post_event("disaster", event_body("DUCDP110", radius_m=150.0))
    await harness.settle()
    incident = await harness.incident(response.json()["incident_id"])
    assert set(c["id"] for c in incident["cameras"]) == {"sees", "ptz", "away", "undirected"}


async def test_vulnerable_sos_notifies_police_and_guardian_and_follows_the_person(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    items = [{"key": "PERSON_REF", "val": "W-1234"}, {"key": "PERSON_NAME", "val": "Aino Virtanen"},
             {"key": "GUARDIAN_PHONE", "val": "+358401234567"}, {"key": "SOS_TYPE", "val": "button"}]
    opened = await harness.post_event("welfare", event_body("WPSSF110", items=items,
                                                            sender={"system": "WPS", "city": "helsinki"}))
    await harness.settle()
    incident_id = opened.json()["incident_id"]
    incident = await harness.incident(incident_id)
    assert incident["cameras"][0]["id"] == "sees"
    assert sorted((n["recipient"], n["status"]) for n in incident["notifications"]) == [
        ("guardian", "no_endpoint"), ("police", "no_endpoint")]
    assert "police" in incident["agencies"]
    assert await _stream_types(harness, incident_id) == ["incident.opened", "cameras.selected", "grant.issued",
                                                         "notification.created", "notification.created"]

    moved = await harness.post_event("welfare", event_body("WPSSF110", status="40", at=offset(*SPOT, north_m=2000),
                                                           items=items, time="2026-11-26T11:02:00+02:00",
                                                           sender={"system": "WPS", "city": "helsinki"}))
    assert moved.status_code == 201
    await harness.settle()
    incident = await harness.incident(incident_id)
    assert incident["cameras"][0]["id"] == "far"
    assert incident["grants"][0]["cameras"] == ["far"]

    # Personal data stays in the store: never in logs, the stream, or an auditor's view.
    text = caplog.text + json.dumps([m.data for m in harness.platform.hub._recent])
    assert "+358401234567" not in text and "Aino" not in text
    auditor = await _auditor(harness)
    seen = await harness.client.get(f"/api/v1/incidents/{incident_id}", headers=auditor)
    assert "+358401234567" not in seen.text and "Aino" not in seen.text
    assert all(g["token"] is None for g in seen.json()["grants"])


async def _auditor(h: Harness) -> dict[str, str]:
    _, key = h.platform.db.write_sync(lambda s: agency_repo.issue_key(s, "centre", Role.AUDITOR,
                                                                      now=h.platform.clock()))
    return {"Authorization": f"Bearer {key}"}


async def test_disaster_area_growing_reselects(harness: Harness) -> None:
    body = event_body("DUCDP110", radius_m=50.0, sender={"system": "DRS", "city": "helsinki"})
    opened = (await harness.post_event("disaster", body)).json()
    await harness.settle()
    assert {c["id"] for c in (await harness.incident(opened["incident_id"]))["cameras"]} == {"ptz", "away"}
    grown = await harness.post_event("disaster", {**body, "status": "40", "radius_m": 150.0,
                                                  "time": "2026-11-26T11:10:00+02:00"})
    assert grown.status_code == 201
    await harness.settle()
    incident = await harness.incident(opened["incident_id"])
    assert {c["id"] for c in incident["cameras"]} == {"sees", "ptz", "away", "undirected"}
    assert set(incident["grants"][0]["cameras"]) == {"sees", "ptz", "away", "undirected"}


async def test_dispatch_for_a_report_without_video_gets_none(harness: Harness) -> None:
    await harness.post_event("police", event_body(items=[{"key": "CRIME_TYPE", "val": "noise"}]))
    await harness.settle()
    dispatch = await harness.post_event("police", event_body("112UC120", items=[{"key": "UNIT", "val": "p-1"}]))
    await harness.settle()
    incident = await harness.incident(dispatch.json()["incident_id"])
    assert incident["cameras"] == [] and incident["grants"] == []


async def test_police_lists_its_units_incidents_with_a_total(harness: Harness) -> None:
    await harness.post_event("police", event_body())
    await harness.post_event("fire", event_body("119UC001", sender={"system": "119", "city": "helsinki"}))
    await harness.settle()
    await harness.post_event("police", event_body("112UC120", items=[{"key": "UNIT", "val": "patrol-1"}]))
    await harness.settle()
    police = await harness.client.get("/api/v1/incidents", params={"limit": 1}, headers=harness.auth("police"))
    assert police.headers["x-total-count"] == "2" and len(police.json()) == 1
    fire = await harness.client.get("/api/v1/incidents", headers=harness.auth("fire"))
    assert [i["code"] for i in fire.json()] == ["119UC001"]


@pytest.mark.parametrize(("code", "items", "status", "effect", "planned"), [
    ("119UC001", [], "10", "opened", "dispatch"),
    ("119UC001", [], "40", "moved", "dispatch"),
    ("119UC001", [], "40", "updated", None),  # the same scene: nothing new to plan
    ("119UC001", [], "90", "ended", None),
    ("112UC001", [{"key": "CRIME_TYPE", "val": "robbery"}], "10", "opened", "cordon"),
    ("112UC001", [], "40", "moved", "cordon"),  # a sighting elsewhere
    ("112UC001", [{"key": "CRIME_TYPE", "val": "noise"}], "10", "opened", None),  # no suspect to contain
    ("112UC120", [], "10", "opened", "cordon"),
])
def test_route_plans_follow_the_scene_of_119_calls_and_112_reports(
        code: str, items: list[dict[str, str]], status: str, effect: str, planned: str | None) -> None:
    [service] = [s for s in default_registry(Settings()).for_code(code) if s.name == "route_plans"]
    event = Event.model_validate({**event_body(code, status=status, items=items), "name": "x", "grade": "10"})
    view = IncidentView(id="i", key="k", opened_now=effect == "opened", ended_now=effect == "ended",
                        location_changed=effect == "moved")
    actions = service.handle(event, view)
    kinds = {PlanDispatch: "dispatch", PlanCordon: "cordon"}
    assert [kinds[type(a)] for a in actions] == ([planned] if planned else [])
