"""Low-emission enforcement end to end: zones with their hours, the restricted and exempt lists from CSV, plate
reads becoming at most one violation per vehicle, zone and day, and the day's CSV for the enforcement office."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.conftest import SPOT, Harness, offset

# FakeClock: Thursday 26 November 2026, 09:00 UTC = 11:00 in Helsinki.
CORNERS = [offset(*SPOT, east_m=e, north_m=n) for e, n in ((-200, -200), (200, -200), (200, 200), (-200, 200))]
ZONE = {"name": "Centre LEZ", "area": {"type": "Polygon", "coordinates": [[list(c) for c in [*CORNERS, CORNERS[0]]]]},
        "days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:00", "end": "19:00"}
INSIDE = offset(*SPOT, east_m=50)
OUTSIDE = offset(*SPOT, east_m=900)


async def _csv(h: Harness, path: str, text: str, caller: str = "centre") -> httpx.Response:
    return await h.client.post(f"/api/v1/lez/{path}", content=text.encode(),
                               headers={**h.auth(caller), "content-type": "text/csv"})


def _read(plate: str, at: tuple[float, float], time: str, camera: str = "sees") -> dict[str, Any]:
    return {"camera_id": camera, "plate": plate, "time": time, "confidence": 0.9,
            "location": {"lon": at[0], "lat": at[1]}, "image_url": f"https://lpr.example/{camera}/{time}.jpg"}


async def _reads(h: Harness, *reads: dict[str, Any]) -> None:
    response = await h.client.post("/api/v1/lpr/reads", json={"reads": list(reads)}, headers=h.auth("centre"))
    assert response.status_code == 200, response.text
    await h.settle()


async def test_restricted_vehicles_in_an_active_zone_make_one_violation_a_day(harness: Harness) -> None:
    h = harness
    zone = await h.client.put("/api/v1/lez/zones/centre", json=ZONE, headers=h.auth("centre"))
    assert zone.status_code == 201, zone.text
    restricted = await _csv(h, "restricted", "plate,grade\n12가3456,5\nABC-123,5\n!!,5\n34나5678,\n")
    assert restricted.status_code == 200, restricted.text
    body = restricted.json()
    assert body["imported"] == 2 and [(r["line"], r["field"]) for r in body["rejected"]] == [(4, "plate"),
                                                                                           (5, "grade")]
    exempt = await _csv(h, "exemptions", "plate,reason\nabc 123,retrofitted particulate filter\n")
    assert exempt.json()["imported"] == 1

    await _reads(h,
                 _read("12가3456", INSIDE, "2026-11-26T09:00:00Z"),  # restricted, inside, Thursday 11:00: violation
                 _read("12가3456", INSIDE, "2026-11-26T12:00:00Z", camera="ptz"),  # again that day: nothing more
                 _read("ABC123", INSIDE, "2026-11-26T09:01:00Z"),  # restricted but exempt
                 _read("56다7890", INSIDE, "2026-11-26T09:02:00Z"),  # not restricted
                 _read("서울12가3456", OUTSIDE, "2026-11-27T09:00:00Z"),  # outside the zone
                 _read("12가3456", INSIDE, "2026-11-28T09:00:00Z"),  # Saturday: the zone is off
                 _read("12가3456", INSIDE, "2026-11-26T18:30:00Z"))  # 20:30 local: after hours
    listed = (await h.client.get("/api/v1/lez/violations", params={"day": "2026-11-26"},
                                 headers=h.auth("centre"))).json()["violations"]
    assert [(v["zone"], v["plate"], v["grade"], v["camera_id"]) for v in listed] == [("centre", "12가3456", "5",
                                                                                      "sees")]
    exported = await h.client.get("/api/v1/lez/violations.csv", params={"day": "2026-11-26"},
                                  headers=h.auth("centre"))
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="lez-violations-2026-11-26.csv"' in exported.headers["content-disposition"]
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert (row["plate"], row["image_url"]) == ("12가3456", "https://lpr.example/sees/2026-11-26T09:00:00Z.jpg")
    assert (await h.client.get("/api/v1/lez/violations", params={"day": "2026-11-28"},
                               headers=h.auth("centre"))).json()["violations"] == []

    # The zone removed: no more violations.
    assert (await h.client.delete("/api/v1/lez/zones/centre", headers=h.auth("centre"))).status_code == 204
    await _reads(h, _read("12가3456", INSIDE, "2026-11-27T08:00:00Z"))
    assert (await h.client.get("/api/v1/lez/violations", params={"day": "2026-11-27"},
                               headers=h.auth("centre"))).json()["violations"] == []


async def test_only_centre_staff_run_enforcement_and_bad_input_names_the_field(harness: Harness) -> None:
    h = harness
    assert (await h.client.put("/api/v1/lez/zones/x", json=ZONE, headers=h.auth("police"))).status_code == 403
    assert (await _csv(h, "restricted", "plate,grade\n12가3456,5\n", caller="fire")).status_code == 403
    assert (await h.client.get("/api/v1/lez/violations", params={"day": "2026-11-26"},
                               headers=h.auth("police"))).status_code == 403
    bad_day = await h.client.put("/api/v1/lez/zones/x", json={**ZONE, "days": ["funday"]}, headers=h.auth("centre"))
    assert bad_day.status_code == 422 and bad_day.json()["errors"][0]["field"] == "/days"
    bow_tie = [list(CORNERS[0]), list(CORNERS[2]), list(CORNERS[1]), list(CORNERS[3]), list(CORNERS[0])]
    bad_ring = await h.client.put("/api/v1/lez/zones/x", headers=h.auth("centre"),
                                  json={**ZONE, "area": {"type": "Polygon", "coordinates": [bow_tie]}})
    assert bad_ring.status_code == 422 and bad_ring.json()["errors"][0]["field"] == "/area"
    bad_time = await h.client.put("/api/v1/lez/zones/x", json={**ZONE, "start": "25:00"}, headers=h.auth("centre"))
    assert bad_time.status_code == 422 and bad_time.json()["errors"][0]["field"] == "/start"
    no_header = await _csv(h, "restricted", "12가3456,5\n")
    assert no_header.status_code == 422 and "plate,grade" in no_header.json()["detail"]
    bad_date = await h.client.get("/api/v1/lez/violations", params={"day": "26.11.2026"}, headers=h.auth("centre"))
    assert bad_date.status_code == 422
