"""Service usage: how many events each service handled in a window, and how long until its effects were
committed — the figure the national audit found nobody measured."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import FakeClock, Harness, event_body


async def test_each_service_reports_its_events_and_delays(harness: Harness, clock: FakeClock) -> None:
    h = harness
    for n in range(3):
        await h.post_event("police", event_body(occurrence=f"2026112609000000{n}"))
    await h.post_event("fire", event_body("119UC001", sender={"system": "119", "city": "helsinki"}))
    await h.settle()
    clock.now += timedelta(minutes=1)
    stats = (await h.client.get("/api/v1/statistics/services", headers=h.auth("centre"))).json()
    by_service = {s["service"]: s for s in stats["services"]}
    assert by_service["emergency_video_112"]["events"] == 3
    assert by_service["dispatch_119"]["events"] == 1 and by_service["route_plans"]["events"] == 4
    for usage in by_service.values():
        assert 0 <= usage["p50_ms"] <= usage["p90_ms"] <= usage["p99_ms"] <= usage["max_ms"]

    # A window before the events: nothing. Agencies do not see the figures; a reversed window is refused.
    earlier = {"since": "2026-11-25T00:00:00Z", "until": "2026-11-25T12:00:00Z"}
    assert (await h.client.get("/api/v1/statistics/services", params=earlier,
                               headers=h.auth("centre"))).json()["services"] == []
    assert (await h.client.get("/api/v1/statistics/services", headers=h.auth("police"))).status_code == 403
    reversed_window = {"since": "2026-11-26T12:00:00Z", "until": "2026-11-26T00:00:00Z"}
    bad = await h.client.get("/api/v1/statistics/services", params=reversed_window, headers=h.auth("centre"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "/query/since"
