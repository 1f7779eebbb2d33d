"""Wanted-vehicle search end to end: the police watch list, plate reads in batches, a hit opening the
wanted-vehicle incident (cameras granted to the police, an alert), later hits making its track, and the
privacy rules: only the police see the list and the reads, reads that hit nothing go after 24 h, plates stay
out of the log."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import SPOT, FakeClock, Harness, offset

PLATE = "서울12가3456"
NEAR = offset(*SPOT, east_m=15)
ELSEWHERE = offset(*SPOT, north_m=900)


def _read(plate: str, *, camera: str = "sees", at: tuple[float, float] | None = NEAR, seconds: int = 0,
          confidence: float = 0.95, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"camera_id": camera, "plate": plate, "confidence": confidence,
                            "time": f"2026-11-26T09:00:{seconds:02d}Z", **extra}
    if at is not None:
        body["location"] = {"lon": at[0], "lat": at[1]}
    return body


async def _watch(h: Harness, plate: str, caller: str = "police", **body: Any) -> httpx.Response:
    payload = {"category": "stolen", "reason": "case 2026-118", "expires_at": "2026-12-31T00:00:00Z", **body}
    return await h.client.put(f"/api/v1/lpr/watch-list/{plate}", json=payload, headers=h.auth(caller))


async def _send(h: Harness, *reads: dict[str, Any], caller: str = "centre") -> dict[str, Any]:
    response = await h.client.post("/api/v1/lpr/reads", json={"reads": list(reads)}, headers=h.auth(caller))
    assert response.status_code == 200, response.text
    await h.settle()
    result: dict[str, Any] = response.json()
    return result


async def test_only_the_police_manage_the_watch_list(harness: Harness) -> None:
    created = await _watch(harness, "서울 12가-3456")
    assert created.status_code == 201, created.text
    assert created.json()["plate"] == PLATE and created.json()["added_by"] == "police"
    changed = await _watch(harness, PLATE, category="urgent")
    assert changed.status_code == 200 and changed.json()["category"] == "urgent"
    assert changed.json()["id"] == created.json()["id"]
    for caller in ("centre", "fire", "auditor"):
        if caller not in harness.keys:
            continue
        denied = await harness.client.get("/api/v1/lpr/watch-list", headers=harness.auth(caller))
        assert denied.status_code == 403 and "for police only" in denied.json()["detail"]
        assert (await _watch(harness, "34나5678", caller)).status_code == 403
    listed = (await harness.client.get("/api/v1/lpr/watch-list", headers=harness.auth("police"))).json()
    assert [(e["plate"], e["category"]) for e in listed["entries"]] == [(PLATE, "urgent")]

    bad = await _watch(harness, "12가34")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/plate"
    past = await _watch(harness, "34나5678", expires_at="2026-01-01T00:00:00Z")
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "/expires_at"
    wrong = await _watch(harness, "34나5678", category="lost")
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "/category"

    removed = await harness.client.delete(f"/api/v1/lpr/watch-list/{PLATE}", headers=harness.auth("police"))
    assert removed.status_code == 204
    again = await harness.client.delete(f"/api/v1/lpr/watch-list/{PLATE}", headers=harness.auth("police"))
    assert again.status_code == 404


async def test_a_hit_opens_the_wanted_vehicle_incident_and_later_hits_make_its_track(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness
    assert (await _watch(h, PLATE)).status_code == 201
    first = await _send(h, _read("12가3456", heading_deg=90, image_url="https://lpr.example/1.jpg"),
                        _read("34나5678", seconds=1), _read("12가34", seconds=2),
                        _read("56다7890", camera="unregistered", at=None, seconds=3))
    assert first["accepted"] == 2 and len(first["hits"]) == 1
    assert [(r["index"], r["field"]) for r in first["rejected"]] == [(2, "/reads/2/plate"),
                                                                      (3, "/reads/3/camera_id")]
    [incident_id] = first["hits"]
    incident = await h.incident(incident_id, "police")
    assert incident["code"] == "LPRUM120" and incident["grants"][0]["agency"] == "police"
    assert incident["cameras"] and incident["cameras"][0]["id"] == "sees"
    [alert] = [n["message"] for n in incident["notifications"] if n["recipient"] == "police"]
    assert alert == ("Hit: stolen vehicle read by LPR camera sees at 09:00:00 UTC; heading 90°; "
                     "image https://lpr.example/1.jpg")

    # The same read again: no second alert. A hit elsewhere, at low confidence: the same incident moves.
    assert (await _send(h, _read("12가3456", heading_deg=90, image_url="https://lpr.example/1.jpg")))["hits"] == []
    later = await _send(h, _read("12가-3456", camera="far", at=ELSEWHERE, seconds=40, confidence=0.5))
    assert later["hits"] == [incident_id]
    track = await h.incident(incident_id, "police")
    assert [(e["event"]["location"]["lat"], e["status"]) for e in track["events"]] == [(NEAR[1], "10"),
                                                                                     (ELSEWHERE[1], "40")]
    alerts = [n["message"] for n in track["notifications"] if n["recipient"] == "police"]
    assert alerts[-1].startswith("Seen again: stolen vehicle read by LPR camera far at 09:00:40 UTC")
    assert "low confidence (0.500)" in alerts[-1]
    assert "12가3456" not in caplog.text and "34나5678" not in caplog.text and "서울" not in caplog.text

    # The police close it; the vehicle is read again: a new incident.
    ended = await h.client.post(f"/api/v1/incidents/{incident_id}/status", json={"status": "90", "content": "found"},
                                headers=h.auth("police"))
    assert ended.status_code == 201, ended.text
    await h.settle()
    reopened = await _send(h, _read("12가3456", seconds=59))
    assert reopened["hits"] and reopened["hits"] != [incident_id]


async def test_region_and_expiry_decide_a_hit(harness: Harness, clock: FakeClock) -> None:
    assert (await _watch(harness, PLATE, expires_at=(clock.now + timedelta(hours=1)).isoformat())).status_code == 201
    other_region = await _send(harness, _read("부산12가3456"))
    assert other_region["hits"] == []  # another car: the regions differ
    clock.now += timedelta(hours=2)
    expired = await _send(harness, {**_read("12가3456"), "time": "2026-11-26T11:00:05Z"})
    assert expired["hits"] == []  # read after the entry expired
    late_delivery = await _send(harness, _read("12가3456", seconds=5))
    assert len(late_delivery["hits"]) == 1  # read while it was live, delivered late: still a hit


async def test_reads_are_for_the_police_only_and_unmatched_ones_go_after_the_retention(
        harness: Harness, clock: FakeClock) -> None:
    h = harness
    await _watch(h, PLATE)
    await _send(h, _read("12가3456"), _read("34나5678", seconds=1))
    assert (await h.client.get("/api/v1/lpr/reads", params={"plate": "34나5678"},
                               headers=h.auth("centre"))).status_code == 403
    found = (await h.client.get("/api/v1/lpr/reads", params={"plate": "34나 5678"}, headers=h.auth("police"))).json()
    assert [(r["plate"], r["hit"], r["camera_id"]) for r in found["reads"]] == [("34나5678", False, "sees")]
    audit = (await h.client.get("/api/v1/audit", params={"action": "plate.search"}, headers=h.auth("centre"))).json()
    assert [(e["actor"], e["detail"]) for e in audit] == [("police", {"results": 1})]

    clock.now = clock.now.replace(day=27, hour=10)  # 25 hours after the reads
    assert await h.platform.plate_reads.purge() == 1
    gone = (await h.client.get("/api/v1/lpr/reads", params={"plate": "34나5678"}, headers=h.auth("police"))).json()
    kept = (await h.client.get("/api/v1/lpr/reads", params={"plate": PLATE}, headers=h.auth("police"))).json()
    assert gone["reads"] == [] and [r["hit"] for r in kept["reads"]] == [True]  # evidence of a hit stays


async def test_a_hit_that_failed_to_reach_intake_is_sent_when_the_read_comes_again(harness: Harness) -> None:
    h = harness
    await _watch(h, PLATE)
    reads = h.platform.plate_reads
    real_submit = reads._submit

    async def down(*_: Any, **__: Any) -> Any:
        raise ConnectionError("intake away")

    reads._submit = down
    with pytest.raises(ConnectionError):  # the HTTP caller gets a 5xx and sends the batch again
        await h.client.post("/api/v1/lpr/reads", json={"reads": [_read("12가3456")]}, headers=h.auth("centre"))
    reads._submit = real_submit
    retried = await _send(h, _read("12가3456"))
    assert len(retried["hits"]) == 1
    assert (await _send(h, _read("12가3456")))["hits"] == []  # sent once: no second alert
    incident = await h.incident(retried["hits"][0], "police")
    assert len([n for n in incident["notifications"] if n["recipient"] == "police"]) == 1
