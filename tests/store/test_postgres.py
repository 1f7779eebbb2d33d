"""The same schema, migrations and flow on a real PostgreSQL server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from citylink.api.app import create_app
from citylink.domain.audit import verify_chain
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store import audit_repo
from tests.conftest import default_cameras, event_body

pytestmark = pytest.mark.services


async def test_robbery_flow_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=pg_url)
    platform = Platform.open(settings)
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        police = {"Authorization": f"Bearer {keys['police']}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            created = await client.post("/api/v1/events", json=event_body(), headers=police)
            duplicate = await client.post("/api/v1/events", json=event_body(), headers=police)
            assert (created.status_code, duplicate.status_code) == (201, 200)
            await platform.wait_idle()
            incident = (await client.get(f"/api/v1/incidents/{created.json()['incident_id']}",
                                         headers=police)).json()
            assert incident["cameras"][0]["id"] == "sees"
            assert incident["grants"][0]["agency"] == "police"
            ended = await client.post("/api/v1/events", json=event_body(status="91",
                                                                        time="2026-11-26T11:30:00+02:00"),
                                      headers=police)
            assert ended.status_code == 201
        problems = platform.db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s)))
        assert problems == []
