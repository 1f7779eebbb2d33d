"""Grants as a media server sees them: the MediaMTX auth hook, JWKS, expiry, revocation, and the audit of each."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import FakeClock, Harness, event_body


async def _granted(h: Harness) -> tuple[str, dict[str, Any]]:
    response = await h.post_event("police", event_body())
    await h.settle()
    incident = await h.incident(response.json()["incident_id"], agency="police")
    return incident["id"], incident["grants"][0]


def _hook(path: str, **fields: str) -> dict[str, Any]:
    return {"user": "", "password": "", "token": "", "ip": "10.1.2.3", "action": "read", "path": path,
            "protocol": "rtsp", "id": None, "query": "", **fields}


async def _ask(h: Harness, body: dict[str, Any]) -> httpx.Response:
    return await h.client.post("/api/v1/video/auth", json=body)


@pytest.mark.parametrize("carrier", ["token", "password", "query"])
async def test_granted_camera_is_allowed_whichever_way_the_token_comes(harness: Harness, carrier: str) -> None:
    _, grant = await _granted(harness)
    token = grant["token"]
    fields = {"query": f"jwt={token}"} if carrier == "query" else {carrier: token}
    response = await _ask(harness, _hook(f"camera/{grant['cameras'][0]}", **fields))
    assert response.status_code == 200, response.text


async def test_denials_name_their_reason(harness: Harness) -> None:
    _, grant = await _granted(harness)
    token = grant["token"]
    cases = [
        (_hook("camera/far", token=token), 403, "not covered by this grant"),
        (_hook("camera/nope", token=token), 403, "unknown camera"),
        (_hook("camera/sees"), 401, "no grant token"),
        (_hook("camera/sees", token="garbage"), 401, "invalid grant token"),
        (_hook("camera/sees", token=token, action="publish"), 403, "action publish"),
        (_hook("other/sees", token=token), 403, "not a camera path"),
    ]
    for body, status, words in cases:
        response = await _ask(harness, body)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["reason"]


async def test_ending_the_incident_revokes_and_the_hook_then_denies(harness: Harness) -> None:
    _, grant = await _granted(harness)
    body = _hook(f"camera/{grant['cameras'][0]}", token=grant["token"])
    assert (await _ask(harness, body)).status_code == 200
    await harness.post_event("police", event_body(status="91", time="2026-11-26T11:40:00+02:00"))
    await harness.settle()
    denied = await _ask(harness, body)
    assert denied.status_code == 403
    assert "revoked" in denied.json()["reason"]
    listed = await harness.client.get("/api/v1/grants", headers=harness.auth("police"))
    assert listed.json()[0]["revoked"] is True and listed.json()[0]["token"] is None


async def test_grant_expires_after_the_maximum_duration(harness: Harness, clock: FakeClock) -> None:
    _, grant = await _granted(harness)
    body = _hook(f"camera/{grant['cameras'][0]}", token=grant["token"])
    clock.advance(hours=1, minutes=59)
    assert (await _ask(harness, body)).status_code == 200
    clock.advance(minutes=2)
    denied = await _ask(harness, body)
    assert denied.status_code == 401
    assert "expired" in denied.json()["reason"]


async def test_every_allow_and_deny_is_audited(harness: Harness) -> None:
    _, grant = await _granted(harness)
    await _ask(harness, _hook("camera/sees", token=grant["token"]))
    await _ask(harness, _hook("camera/far", token=grant["token"]))
    await _ask(harness, _hook("camera/sees"))
    audit = (await harness.client.get("/api/v1/audit", headers=harness.auth("centre"))).json()
    video = [(r["action"], r["subject"], r["actor"]) for r in audit if r["action"].startswith("video.")]
    assert video == [("video.allowed", "camera/sees", "police"), ("video.denied", "camera/far", "police"),
                     ("video.denied", "camera/sees", "unknown")]


async def test_token_verifies_against_the_published_jwks(harness: Harness) -> None:
    _, grant = await _granted(harness)
    jwks = (await harness.client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(grant["token"], key.key, algorithms=["ES256"], audience="citylink-video",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["sub"] == "police"
    assert {p["path"] for p in claims["mediamtx_permissions"]} == {f"camera/{c}" for c in grant["cameras"]}


async def test_agencies_see_only_their_own_incidents_and_grants(harness: Harness) -> None:
    incident_id, _ = await _granted(harness)
    fire = harness.auth("fire")
    assert (await harness.client.get(f"/api/v1/incidents/{incident_id}", headers=fire)).status_code == 404
    assert (await harness.client.get("/api/v1/incidents", headers=fire)).json() == []
    assert (await harness.client.get("/api/v1/grants", headers=fire)).json() == []
    assert len((await harness.client.get("/api/v1/incidents", headers=harness.auth("police"))).json()) == 1
    forbidden = await harness.client.get("/api/v1/audit", headers=harness.auth("police"))
    assert forbidden.status_code == 403
    assert "may not read the audit trail" in forbidden.json()["detail"]


async def test_supervisor_shares_video_with_another_agency(harness: Harness) -> None:
    incident_id, _ = await _granted(harness)
    shared = await harness.client.post(f"/api/v1/incidents/{incident_id}/grants",
                                       json={"agency": "fire", "purpose": "smoke reported at the scene"},
                                       headers=harness.auth("centre"))
    assert shared.status_code == 201, shared.text
    assert shared.json()["agency"] == "fire" and shared.json()["token"]
    fire_view = await harness.client.get(f"/api/v1/incidents/{incident_id}", headers=harness.auth("fire"))
    assert fire_view.status_code == 200
    refused = await harness.client.post(f"/api/v1/incidents/{incident_id}/grants",
                                        json={"agency": "justice", "purpose": "curious"},
                                        headers=harness.auth("police"))
    assert refused.status_code == 403


async def test_sharing_errors_are_clear(harness: Harness) -> None:
    incident_id, _ = await _granted(harness)
    centre = harness.auth("centre")
    unknown = await harness.client.post(f"/api/v1/incidents/{incident_id}/grants",
                                        json={"agency": "nobody", "purpose": "x"}, headers=centre)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "/agency"
    await harness.post_event("police", event_body(status="91", time="2026-11-26T11:40:00+02:00"))
    await harness.settle()
    ended = await harness.client.post(f"/api/v1/incidents/{incident_id}/grants",
                                      json={"agency": "fire", "purpose": "x"}, headers=centre)
    assert ended.status_code == 409 and "has ended" in ended.json()["detail"]
