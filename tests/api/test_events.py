"""Event intake: idempotency, the incident lifecycle, and bad input that leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import Harness, event_body


async def _counts(h: Harness) -> tuple[int, int]:
    response = await h.client.get("/api/v1/incidents", headers=h.auth("centre"))
    incidents = response.json()
    events = 0
    for summary in incidents:
        events += len((await h.incident(summary["id"]))["events"])
    return len(incidents), events


async def test_same_event_twice_is_stored_once(harness: Harness) -> None:
    first = await harness.post_event("police", event_body())
    second = await harness.post_event("police", event_body())
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    await harness.settle()
    incident = await harness.incident(first.json()["incident_id"])
    assert len(incident["events"]) == 1
    assert len(incident["grants"]) == 1


async def test_update_moves_incident_and_end_closes_it(harness: Harness) -> None:
    opened = (await harness.post_event("police", event_body())).json()
    moved = await harness.post_event("police", event_body(status="40", at=(24.9414, 60.1890),
                                                          time="2026-11-26T11:05:00+02:00"))
    assert moved.status_code == 201
    await harness.settle()
    incident = await harness.incident(opened["incident_id"])
    assert incident["status"] == "40"
    assert incident["location"]["lat"] == 60.1890
    assert incident["cameras"][0]["id"] == "far"  # the only camera near the new position
    assert incident["selection_note"] == ""
    ended = await harness.post_event("police", event_body(status="91", time="2026-11-26T11:30:00+02:00"))
    assert ended.status_code == 201
    await harness.settle()
    incident = await harness.incident(opened["incident_id"])
    assert incident["status"] == "91" and incident["ended_at"] is not None
    assert [e["status"] for e in incident["events"]] == ["10", "40", "91"]
    assert all(g["revoked"] for g in incident["grants"])


@pytest.mark.parametrize(("sequence", "reason"), [
    (["10", "40", "10"], "goes backwards"),
    (["91"], "never opened"),
    (["10", "91", "40"], "already ended"),
])
async def test_lifecycle_violations_are_refused_with_409(harness: Harness, sequence: list[str], reason: str) -> None:
    responses = []
    for minute, status in enumerate(sequence):
        responses.append(await harness.post_event(
            "police", event_body(status=status, time=f"2026-11-26T11:{minute:02d}:00+02:00")))
    last = responses[-1]
    assert last.status_code == 409
    body = last.json()
    assert reason in body["detail"]
    assert body["errors"][0]["field"] == "/status"
    await harness.settle()
    _, events = await _counts(harness)
    assert events == len(sequence) - 1


async def test_catalogue_code_without_service_is_stored_and_shown(harness: Harness) -> None:
    response = await harness.post_event("centre", event_body("EBSCP110", place="Kamppi bell 3"))
    assert response.status_code == 201
    await harness.settle()
    incident = await harness.incident(response.json()["incident_id"])
    assert incident["name_en"] == "emergency bell"
    assert incident["cameras"] == [] and incident["grants"] == []


def _broken(**changes: Any) -> dict[str, Any]:
    body = event_body()
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(("body", "field", "words"), [
    (_broken(occurrence=None), "/occurrence", "required"),
    (_broken(code="XYZ00000"), "/code", "unknown event code"),
    (_broken(location={"lon": 24.9, "lat": 91}), "/location/lat", "less than or equal"),
    (_broken(location={"lon": 200, "lat": 60}), "/location/lon", "less than or equal"),
    (_broken(time="2026-11-26T11:00:00"), "/time", "timezone"),
    (_broken(status="30"), "/status", "'10'"),
    (_broken(sender={"system": "112"}), "/sender/city", "required"),
    (_broken(area={"type": "Polygon", "coordinates": [[[24.9, 60.1], [24.95, 60.1], [24.9, 60.1]]]}), "/",
     "at least 4 positions"),
    (_broken(surprise=1), "/surprise", "not permitted"),
])
async def test_malformed_events_get_422_naming_the_field(harness: Harness, body: dict[str, Any], field: str,
                                                         words: str) -> None:
    response = await harness.post_event("police", body)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == field and words in e["message"] for e in problem["errors"]), problem
    assert await _counts(harness) == (0, 0)


async def test_malformed_json_is_a_422_not_a_500(harness: Harness) -> None:
    response = await harness.client.post("/api/v1/events", content=b'{"code": "112UC001",',
                                         headers={**harness.auth("police"), "content-type": "application/json"})
    assert response.status_code == 422
    assert "malformed JSON" in response.json()["detail"]


async def test_body_over_the_limit_is_refused_with_413(harness: Harness) -> None:
    body = event_body(content="x" * 2_000_000)
    response = await harness.post_event("police", body)
    assert response.status_code == 413
    assert "exceeds" in response.json()["detail"]
    assert await _counts(harness) == (0, 0)


@pytest.mark.parametrize(("headers", "status", "words"), [
    ({}, 401, "Authorization: Bearer"),
    ({"Authorization": "Basic abc"}, 401, "must be 'Bearer"),
    ({"Authorization": "Bearer clk_wrong"}, 401, "not recognised"),
])
async def test_missing_or_wrong_key_is_401(harness: Harness, headers: dict[str, str], status: int,
                                           words: str) -> None:
    response = await harness.client.post("/api/v1/events", json=event_body(), headers=headers)
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_correlation_id_is_echoed(harness: Harness) -> None:
    response = await harness.client.post("/api/v1/events", json=event_body(),
                                         headers={**harness.auth("police"), "X-Correlation-ID": "abc123"})
    assert response.headers["x-correlation-id"] == "abc123"
    audit = await harness.client.get("/api/v1/audit", params={"action": "event.received"},
                                     headers=harness.auth("centre"))
    assert audit.json()[0]["correlation_id"] == "abc123"


async def test_status_change_by_operator_is_recorded_as_an_event(harness: Harness) -> None:
    opened = (await harness.post_event("police", event_body())).json()
    await harness.settle()
    response = await harness.client.post(f"/api/v1/incidents/{opened['incident_id']}/status",
                                         json={"status": "91", "content": "suspect arrested"},
                                         headers=harness.auth("centre"))
    assert response.status_code == 201, response.text
    incident = await harness.incident(opened["incident_id"])
    assert incident["status"] == "91"
    assert incident["events"][-1]["received_by"] == "centre"
    again = await harness.client.post(f"/api/v1/incidents/{opened['incident_id']}/status",
                                      json={"status": "40"}, headers=harness.auth("centre"))
    assert again.status_code == 409


async def test_a_store_outage_is_a_503_with_retry_after_and_stores_nothing(harness: Harness,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(*_: Any, **__: Any) -> Any:
        raise OperationalError("INSERT INTO events ...", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(harness.platform.intake, "submit", unreachable)
    answer = await harness.post_event("police", event_body())
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["title"] == "store unavailable"
    monkeypatch.undo()
    assert (await harness.post_event("police", event_body())).status_code == 201  # the retry is accepted
