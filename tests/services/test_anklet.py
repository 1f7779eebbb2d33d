"""MOJUC110 end to end: video to the justice ministry only for the lawful triggers, an audited refusal for any
other, cameras that follow the wearer only while video is allowed, and the trigger list as configuration."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from citylink.api.app import create_app
from citylink.runtime.platform import Platform
from citylink.settings import ServiceSettings, Settings
from tests.conftest import SPOT, FakeClock, Harness, default_cameras, event_body, offset

MOJ = {"system": "MOJ", "city": "helsinki"}
MOVED = offset(*SPOT, north_m=2000)  # beside the camera "far"


_SENT = itertools.count()


def _anklet(trigger: str | None, *, status: str = "10", at: tuple[float, float] = SPOT,
            occurrence: str = "MOJ-20261126-0001") -> dict[str, Any]:
    items = [{"key": "SUBJECT_REF", "val": "S-4411"}]
    if trigger is not None:
        items.append({"key": "TRIGGER", "val": trigger})
    # Each report its own time: the tracking centre's events are told apart by it.
    time = f"2026-11-26T11:{next(_SENT) % 60:02d}:00+02:00"
    return event_body("MOJUC110", status=status, at=at, occurrence=occurrence, sender=MOJ, items=items, time=time)


async def _post(h: Harness, body: dict[str, Any]) -> str:
    response = await h.post_event("justice", body)
    assert response.status_code in (200, 201), response.text
    await h.settle()
    incident_id: str = response.json()["incident_id"]
    return incident_id


async def _refusals(h: Harness, incident_id: str) -> list[dict[str, Any]]:
    audit = (await h.client.get("/api/v1/audit", params={"action": "grant.refused", "subject": incident_id},
                                headers=h.auth("centre"))).json()
    return [entry["detail"] for entry in audit]


@pytest.mark.parametrize("trigger", ["device_damage", "curfew_breach", "banned_zone_entry",
                                     "protected_person_approach"])
async def test_a_lawful_trigger_grants_the_ministry_the_cameras_near_the_wearer(harness: Harness,
                                                                                 trigger: str) -> None:
    incident_id = await _post(harness, _anklet(trigger))
    incident = await harness.incident(incident_id, "justice")
    assert incident["cameras"][0]["id"] == "sees"
    [grant] = incident["grants"]
    assert (grant["agency"], grant["purpose"]) == ("justice", f"anklet linkage: {trigger}") and grant["token"]
    assert await _refusals(harness, incident_id) == []
    # Nobody else sees the wearer: the police are not party to it.
    police = await harness.client.get(f"/api/v1/incidents/{incident_id}", headers=harness.auth("police"))
    assert police.status_code == 404


async def test_any_other_trigger_is_refused_and_the_refusal_audited(harness: Harness) -> None:
    incident_id = await _post(harness, _anklet("battery_low"))
    incident = await harness.incident(incident_id, "justice")  # the ministry sees its event and the refusal
    assert incident["cameras"] == [] and incident["grants"] == []
    [refusal] = await _refusals(harness, incident_id)
    assert refusal["agency"] == "justice" and "'battery_low' is not lawful" in refusal["reason"]
    assert "curfew_breach" in refusal["reason"]
    types = [m.type for m in harness.platform.hub._recent if m.data.get("incident_id") == incident_id]
    assert "grant.refused" in types and "grant.issued" not in types

    # The wearer moves: no trigger, no grant, so no cameras either.
    await _post(harness, _anklet(None, status="40", at=MOVED))
    moved = await harness.incident(incident_id, "justice")
    assert moved["cameras"] == [] and moved["grants"] == []

    # Then a lawful trigger on the same incident: now video.
    await _post(harness, _anklet("curfew_breach", status="40", at=MOVED))
    lawful = await harness.incident(incident_id, "justice")
    assert lawful["cameras"][0]["id"] == "far" and [g["agency"] for g in lawful["grants"]] == ["justice"]


async def test_no_trigger_at_all_is_refused(harness: Harness) -> None:
    incident_id = await _post(harness, _anklet(None))
    [refusal] = await _refusals(harness, incident_id)
    assert refusal["reason"].startswith("no trigger given")


async def test_the_cameras_follow_the_wearer_while_video_is_lawful(harness: Harness) -> None:
    incident_id = await _post(harness, _anklet("banned_zone_entry"))
    first = await harness.incident(incident_id, "justice")
    await _post(harness, _anklet(None, status="40", at=MOVED))
    moved = await harness.incident(incident_id, "justice")
    assert moved["cameras"][0]["id"] == "far" != first["cameras"][0]["id"]
    [grant] = moved["grants"]
    assert "far" in grant["cameras"] and grant["purpose"] == "anklet linkage: banned_zone_entry"
    # Ended by the tracking centre: the grant is revoked.
    await _post(harness, _anklet(None, status="90"))
    assert (await harness.incident(incident_id, "justice"))["grants"][0]["revoked"]


async def test_the_trigger_list_is_configuration(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data",
                        services=ServiceSettings(anklet_triggers=("curfew_breach", "battery_tamper")))
    platform = Platform.open(settings, clock=FakeClock())
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            h = Harness(platform, client, keys)
            tampered = await _post(h, _anklet("battery_tamper", occurrence="MOJ-1"))
            damaged = await _post(h, _anklet("device_damage", occurrence="MOJ-2"))
            assert [g["agency"] for g in (await h.incident(tampered, "justice"))["grants"]] == ["justice"]
            assert (await h.incident(damaged, "justice"))["grants"] == []
            assert "'device_damage' is not lawful" in (await _refusals(h, damaged))[0]["reason"]
