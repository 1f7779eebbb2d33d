"""The spine end to end: a 112 robbery report in, the right cameras and a police grant out."""

from __future__ import annotations

from tests.conftest import Harness, event_body


async def test_robbery_report_selects_cameras_and_grants_police(harness: Harness) -> None:
    response = await harness.post_event("police", event_body(items=[{"key": "CRIME_TYPE", "val": "robbery"}]))
    assert response.status_code == 201, response.text
    incident_id = response.json()["incident_id"]
    await harness.settle()

    incident = await harness.incident(incident_id)
    assert incident["status"] == "10"
    ids = [c["id"] for c in incident["cameras"]]
    assert ids[0] == "sees"
    assert "offline" not in ids and "far" not in ids
    assert incident["cameras"][0]["tier"] == 1
    assert [g["agency"] for g in incident["grants"]] == ["police"]
    assert incident["grants"][0]["cameras"] == ids
