"""Shared fixtures: a platform on a temporary SQLite store with an injected clock, and clients for it."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from citylink.api.app import create_app
from citylink.domain.cameras import Camera
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.store import camera_repo
from citylink.store.database import Database

# Fixtures on the real servers (pg_url, ...) live in their own module.
pytest_plugins = ["tests.real_services"]

REPO = Path(__file__).resolve().parents[1]
HELSINKI_PBF = REPO / "data" / "helsinki.osm.pbf"

# Near the Helsinki railway station; cameras in tests are placed around here.
SPOT = (24.9414, 60.1710)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def require_services() -> bool:
    return os.environ.get("CITYLINK_REQUIRE_SERVICES") == "1"


def offset(lon: float, lat: float, *, east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """A point east_m / north_m metres away (small distances)."""
    import math

    return (lon + east_m / (111_320.0 * math.cos(math.radians(lat))), lat + north_m / 110_540.0)


def camera(cid: str, *, east_m: float = 0.0, north_m: float = 0.0, **fields: Any) -> Camera:
    lon, lat = offset(*SPOT, east_m=east_m, north_m=north_m)
    return Camera(id=cid, name=cid, lon=lon, lat=lat, **fields)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


class Harness:
    """A running platform behind its HTTP API, with the bootstrap keys at hand."""

    def __init__(self, platform: Platform, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.platform = platform
        self.client = client
        self.keys = keys

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    async def post_event(self, agency: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/api/v1/events", json=body, headers=self.auth(agency))

    async def incident(self, incident_id: str, agency: str = "centre") -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/incidents/{incident_id}", headers=self.auth(agency))
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def settle(self) -> None:
        await self.platform.wait_idle()


@pytest.fixture
async def harness(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    platform = Platform.open(settings, clock=clock)
    await platform.save_cameras(default_cameras(), actor="test", source="fixture")
    app = create_app(settings, platform_factory=lambda _: platform)
    async with app.router.lifespan_context(app):
        keys = json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://citylink.test") as client:
            yield Harness(platform, client, keys)


def default_cameras() -> list[Camera]:
    """A small street corner: one camera looking at SPOT, one PTZ, one looking away, one offline, one far."""
    return [
        camera("sees", north_m=60, direction_deg=180.0),
        camera("ptz", east_m=-40, ptz=True),
        camera("away", east_m=20, direction_deg=90.0),
        camera("undirected", north_m=-120),
        camera("offline", north_m=10, direction_deg=180.0, status="offline"),
        camera("far", north_m=2000),
    ]


def event_body(code: str = "112UC001", *, occurrence: str = "20261126090000001", status: str = "10",
               at: tuple[float, float] = SPOT, time: str = "2026-11-26T11:00:00+02:00", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": status, "occurrence": occurrence, "time": time,
                            "location": {"lon": at[0], "lat": at[1]}, "place": "Rautatientori",
                            "sender": {"system": "112", "city": "helsinki"}}
    body.update(extra)
    return body


def data_file(name: str) -> Path:
    """A real data file that ships in the repo's data/ folder."""
    path = REPO / "data" / name
    assert path.is_file(), f"{name} ships in the repo's data/ folder"
    return path


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The platform with the default cameras behind a real uvicorn socket: (base URL, bootstrap keys).

    For endless responses (SSE, MJPEG) that an in-memory transport cannot carry."""
    from tests.live import serve_in_thread

    settings = Settings(data_dir=tmp_path / "live")
    db = Database.open(settings.resolved_database_url)
    db.write_sync(lambda s: camera_repo.upsert_many(s, default_cameras(), now=FakeClock().now))
    db.close()
    platform = Platform.open(settings)  # its camera index is built from the store
    with serve_in_thread(create_app(settings, platform_factory=lambda _: platform)) as base:
        yield base, json.loads((settings.data_dir / "bootstrap-keys.json").read_text())
