"""What the board and the responder view ask of the API: login, map, actions, watching and the grant's state."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from citylink.api.app import create_app
from citylink.domain.agencies import Role
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store import agency_repo
from tests.conftest import FakeClock, Harness, data_file, event_body


async def _robbery(h: Harness) -> dict[str, Any]:
    response = await h.post_event("police", event_body())
    await h.settle()
    return await h.incident(response.json()["incident_id"])


async def test_login_sets_a_cookie_that_authenticates(harness: Harness) -> None:
    client = harness.client
    assert (await client.get("/api/v1/me")).status_code == 401
    refused = await client.post("/api/v1/session", json={"key": "clk_nope"})
    assert refused.status_code == 401 and refused.json()["errors"][0]["field"] == "/key"
    login = await client.post("/api/v1/session", json={"key": harness.keys["fire"]})
    assert login.status_code == 204
    assert "httponly" in login.headers["set-cookie"].lower()
    assert (await client.get("/api/v1/me")).json()["agency"] == "fire"
    await client.delete("/api/v1/session")
    client.cookies.clear()
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_config_and_basemap_draw_the_city(settings: Settings, clock: FakeClock, tmp_path: Any) -> None:
    with_map = Settings(data_dir=tmp_path / "m", basemap_path=data_file("helsinki.osm.pbf"))
    platform = Platform.open(with_map, clock=clock)
    app = create_app(with_map, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((with_map.data_dir / "bootstrap-keys.json").read_text())
        auth = {"Authorization": f"Bearer {keys['centre']}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            config = (await client.get("/api/v1/config", headers=auth)).json()
            assert config["timezone"] == "Europe/Helsinki" and config["tile_url"] is None
            min_lon, min_lat, max_lon, max_lat = config["bbox"]
            assert 24.93 < min_lon < max_lon < 24.96 and 60.16 < min_lat < max_lat < 60.18
            assert "OpenStreetMap" in config["attribution"]
            basemap = await client.get("/api/v1/basemap", headers={**auth, "Accept-Encoding": "gzip"})
            assert basemap.headers["content-encoding"] == "gzip"
            kinds = {f["properties"]["kind"] for f in basemap.json()["features"]}
            assert {"road", "building", "water", "park"} <= kinds


async def test_acknowledge_and_edit_cameras(harness: Harness) -> None:
    incident = await _robbery(harness)
    centre = harness.auth("centre")
    ack = await harness.client.post(f"/api/v1/incidents/{incident['id']}/ack", headers=centre)
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "centre"
    edited = await harness.client.post(f"/api/v1/incidents/{incident['id']}/cameras",
                                       json={"add": ["far"], "remove": ["away"]}, headers=centre)
    assert edited.status_code == 200, edited.text
    cameras = {c["id"]: c for c in edited.json()["cameras"]}
    assert "away" not in cameras and cameras["far"]["reason"].startswith("added by centre")
    assert set(edited.json()["grants"][0]["cameras"]) == set(cameras)  # the police grant followed
    unknown = await harness.client.post(f"/api/v1/incidents/{incident['id']}/cameras", json={"add": ["nope"]},
                                        headers=centre)
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]


async def test_watch_gives_operators_a_grant_and_auditors_nothing(harness: Harness) -> None:
    incident = await _robbery(harness)
    watched = await harness.client.post(f"/api/v1/incidents/{incident['id']}/watch", headers=harness.auth("centre"))
    assert watched.status_code == 201 and watched.json()["agency"] == "centre" and watched.json()["token"]
    police = await harness.client.post(f"/api/v1/incidents/{incident['id']}/watch", headers=harness.auth("police"))
    assert police.status_code == 201 and police.json()["agency"] == "police"
    _, key = harness.platform.db.write_sync(
        lambda s: agency_repo.issue_key(s, "centre", Role.AUDITOR, now=harness.platform.clock()))
    auditor = await harness.client.post(f"/api/v1/incidents/{incident['id']}/watch",
                                        headers={"Authorization": f"Bearer {key}"})
    assert auditor.status_code == 403 and "auditors never do" in auditor.json()["detail"]


async def test_responder_view_follows_the_grant(harness: Harness) -> None:
    incident = await _robbery(harness)
    token = incident["grants"][0]["token"]
    page = await harness.client.get(f"/view/{token}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    live = (await harness.client.get(f"/api/v1/view/{token}")).json()
    assert live["status"] == "live" and [c["id"] for c in live["cameras"]] == incident["grants"][0]["cameras"]
    await harness.post_event("police", event_body(status="91", time="2026-11-26T11:30:00+02:00"))
    await harness.settle()
    ended = (await harness.client.get(f"/api/v1/view/{token}")).json()
    assert ended["status"] == "revoked" and ended["cameras"] == [] and "incident ended" in ended["reason"]
    bad = await harness.client.get("/api/v1/view/not-a-token")
    assert bad.status_code == 401
    audit = (await harness.client.get("/api/v1/audit", params={"action": "view.opened"},
                                      headers=harness.auth("centre"))).json()
    assert audit[0]["actor"] == "police"


async def test_video_streams_only_through_a_grant_and_stops_when_revoked(
        live_server: tuple[str, dict[str, str]]) -> None:
    # A real socket: an endless MJPEG response cannot go through an in-memory transport.
    base, keys = live_server
    police = {"Authorization": f"Bearer {keys['police']}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        created = (await client.post("/api/v1/events", json=event_body(), headers=police)).json()
        await asyncio.sleep(0.3)
        incident = (await client.get(f"/api/v1/incidents/{created['incident_id']}", headers=police)).json()
        token, camera = incident["grants"][0]["token"], incident["grants"][0]["cameras"][0]
        assert (await client.get(f"/video/{camera}.mjpeg")).status_code == 401
        assert (await client.get("/video/far.mjpeg", params={"jwt": token})).status_code == 403
        frames = 0
        async with client.stream("GET", f"/video/{camera}.mjpeg", params={"jwt": token}) as response:
            assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
            async for chunk in response.aiter_bytes():
                frames += chunk.count(b"Content-Type: image/jpeg")
                if frames == 2:  # pictures flow; now end the incident while watching
                    await client.post("/api/v1/events", json=event_body(
                        status="91", time="2026-11-26T11:30:00+02:00"), headers=police)
        assert frames >= 2  # and the stream ended by itself once the grant was revoked
        audit = (await client.get("/api/v1/audit", params={"subject": f"camera/{camera}"},
                                  headers={"Authorization": f"Bearer {keys['centre']}"})).json()
        assert "stream stopped: grant revoked" in audit[-1]["detail"]["reason"]


@pytest.mark.parametrize("path", ["/board", "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"])
async def test_board_assets_are_served_locally(harness: Harness, path: str) -> None:
    response = await harness.client.get(path)
    assert response.status_code == 200, path


async def test_responder_terminal_gets_the_city_map_and_zone_while_the_grant_lives(harness: Harness) -> None:
    incident = await _robbery(harness)
    token = incident["grants"][0]["token"]
    assert (await harness.client.get(f"/api/v1/view/{token}")).json()["timezone"] == "Europe/Helsinki"
    assert (await harness.client.get(f"/api/v1/view/{token}/basemap")).status_code == 200
    await harness.post_event("police", event_body(status="91", time="2026-11-26T11:30:00+02:00"))
    await harness.settle()
    assert (await harness.client.get(f"/api/v1/view/{token}/basemap")).status_code == 403


async def test_stills_go_through_the_grant_and_repeat_views_are_audited_once_a_minute(
        harness: Harness, clock: FakeClock) -> None:
    incident = await _robbery(harness)
    token, camera = incident["grants"][0]["token"], incident["grants"][0]["cameras"][0]
    for _ in range(3):
        still = await harness.client.get(f"/video/{camera}.jpg", params={"jwt": token})
        assert still.status_code == 200 and still.content.startswith(b"\xff\xd8")
    clock.advance(seconds=61)
    assert (await harness.client.get(f"/video/{camera}.jpg", params={"jwt": token})).status_code == 200
    assert (await harness.client.get(f"/video/{camera}.jpg")).status_code == 401
    audit = (await harness.client.get("/api/v1/audit", params={"subject": f"camera/{camera}"},
                                      headers=harness.auth("centre"))).json()
    assert [r["action"] for r in audit] == ["video.allowed", "video.allowed", "video.denied"]
