"""The demo's safe-return walks: made-up walkers going home between the demo's places through the trips API,
a position every few seconds; one in three strays from the route (an alert), the others arrive quietly."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from citylink.demo import DemoConfig
from citylink.geo.distance import haversine_m

STEPS = 6  # positions from start to home
STRAY_SHARE = 1 / 3
STRAY_M = 400.0  # far outside the 150 m corridor
MAX_WALKS = 2


@dataclass(slots=True)
class _Walk:
    trip_id: str
    origin: tuple[float, float]
    destination: tuple[float, float]
    strays_at: int | None  # the step at which the walker wanders off, if they do
    step: int = 0


class Walks:
    def __init__(self, config: DemoConfig, *, seed: int) -> None:
        self._places = config.places
        self._rng = random.Random(seed)
        self._walks: list[_Walk] = []
        self._walkers = 0

    def step(self, client: httpx.Client, welfare_key: str, now: datetime) -> None:
        """Move every walk one step; start one when fewer than MAX_WALKS are under way. Errors are left for the
        next step: a demo keeps going."""
        headers = {"Authorization": f"Bearer {welfare_key}"}
        with contextlib.suppress(httpx.HTTPError):
            for walk in list(self._walks):
                self._advance(client, headers, walk, now)
            if len(self._walks) < MAX_WALKS:
                self._start(client, headers, now)

    def finish(self, client: httpx.Client, welfare_key: str, now: datetime) -> None:
        """Everyone still walking gets home (the demo is stopping): alerts end, trips close."""
        headers = {"Authorization": f"Bearer {welfare_key}"}
        with contextlib.suppress(httpx.HTTPError):
            for walk in self._walks:
                client.post(f"/api/v1/trips/{walk.trip_id}/arrived", headers=headers, json={"time": now.isoformat()})
        self._walks.clear()

    def _start(self, client: httpx.Client, headers: dict[str, str], now: datetime) -> None:
        a, b = self._rng.sample(list(self._places), 2)
        if haversine_m(a.lon, a.lat, b.lon, b.lat) < 200:
            return
        self._walkers += 1
        response = client.post("/api/v1/trips", headers=headers, json={
            "person_ref": f"demo-walker-{self._walkers:03d}",
            "guardian_phone": f"+358 40 000 1{self._walkers % 1000:03d}",
            "from": {"lon": a.lon, "lat": a.lat}, "to": {"lon": b.lon, "lat": b.lat},
            "expected_arrival": (now + timedelta(minutes=10)).isoformat()})
        if response.status_code == 201:
            strays = self._rng.randrange(2, STEPS - 1) if self._rng.random() < STRAY_SHARE else None
            self._walks.append(_Walk(response.json()["id"], (a.lon, a.lat), (b.lon, b.lat), strays))

    def _advance(self, client: httpx.Client, headers: dict[str, str], walk: _Walk, now: datetime) -> None:
        walk.step += 1
        share = walk.step / STEPS
        lon = walk.origin[0] + share * (walk.destination[0] - walk.origin[0])
        lat = walk.origin[1] + share * (walk.destination[1] - walk.origin[1])
        if walk.strays_at == walk.step:
            lat += STRAY_M / 111_320.0
        client.post(f"/api/v1/trips/{walk.trip_id}/positions", headers=headers,
                    json={"location": {"lon": lon, "lat": lat}, "time": now.isoformat()})
        if walk.step >= STEPS:  # home: the trip closes (and an alert's incident ends)
            self._walks.remove(walk)
