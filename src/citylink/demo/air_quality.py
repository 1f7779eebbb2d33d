"""The demo's air stations: made-up sensors at some of the demo's places, reporting through the sensors API.

A fine-dust episode drifts over the city every few minutes: one station climbs over the PM2.5 advisory, a
neighbour follows, both fall back (an alarm opens, grows, is lifted). One station falls silent for a while in
each episode (a "sensor down" maintenance event that ends when it reports again). The Korean rules wait hours
before raising or lifting; the demo compresses every wait 360-fold (two hours to 20 s) so that a few minutes
show the whole cycle.
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime

import httpx

from citylink.demo import DemoConfig
from citylink.domain.environment import KOREAN_MEASURES, Measure
from citylink.settings import EnvironmentSettings

STATIONS = 4
REPORT_EVERY_S = 5.0
TIME_SCALE = 360  # the demo's waits: the rules' waits divided by this
EPISODE_S = 180.0  # one cycle of the fine-dust episode
# (station, from, to): seconds into the episode when the station reads over the advisory
HIGH = ((0, 10.0, 80.0), (1, 35.0, 80.0))
SILENT = (3, 100.0, 140.0)  # the station that stops reporting, and when


def demo_environment() -> EnvironmentSettings:
    """The default measures with compressed waits; silent stations noticed within seconds."""
    measures: list[Measure] = []
    for measure in KOREAN_MEASURES:
        levels = tuple(level.model_copy(update={"raise_after_s": level.raise_after_s / TIME_SCALE,
                                                "clear_after_s": level.clear_after_s / TIME_SCALE})
                       for level in measure.levels)
        measures.append(measure.model_copy(update={"levels": levels}))
    return EnvironmentSettings(measures=tuple(measures), check_every_s=2.0)


class AirStations:
    def __init__(self, config: DemoConfig, *, seed: int) -> None:
        self._places = sorted(config.places, key=lambda p: p.name)[:STATIONS]
        self._rng = random.Random(seed)
        self._started: float | None = None

    def register(self, client: httpx.Client, key: str) -> int:
        """Each station registered by the centre; how many were."""
        registered = 0
        for n, place in enumerate(self._places):
            response = client.put(f"/api/v1/sensors/{_id(n)}", headers=_auth(key), json={
                "name": f"air station {place.name} (made up)", "location": {"lon": place.lon, "lat": place.lat},
                "interval_s": REPORT_EVERY_S})
            registered += response.status_code in (200, 201)
        return registered

    def step(self, client: httpx.Client, key: str, now: datetime, elapsed_s: float) -> None:
        """One report from every station not silent at this point of the episode. Errors are left for the next
        step: a demo keeps going."""
        phase = elapsed_s % EPISODE_S
        readings = []
        for n in range(len(self._places)):
            if n == SILENT[0] and SILENT[1] <= phase < SILENT[2]:
                continue
            high = any(n == station and start <= phase < end for station, start, end in HIGH)
            pm25 = self._rng.uniform(88.0, 110.0) if high else self._rng.uniform(8.0, 24.0)
            readings.append({"sensor_id": _id(n), "time": now.isoformat(),
                             "values": {"pm25": round(pm25, 1), "pm10": round(pm25 * 1.6, 1),
                                        "rainfall_mm_3h": 0.0}})
        with contextlib.suppress(httpx.HTTPError):
            client.post("/api/v1/sensors/readings", headers=_auth(key), json={"readings": readings})


def _id(n: int) -> str:
    return f"demo-air-{n + 1}"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
