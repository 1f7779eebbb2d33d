"""The demo's licence-plate traffic: made-up reads from made-up LPR cameras at the demo's places, and one
made-up stolen car on the police watch list that turns up now and then. No real plate is used."""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta
from typing import Any

from citylink.demo import DemoConfig

WATCHED_PLATE = "XYZ-999"  # made up; on the demo's watch list as stolen
READS_PER_BATCH = 20
WATCHED_SHARE = 0.3  # batches in which the stolen car passes a camera


class PlateTraffic:
    def __init__(self, config: DemoConfig, *, seed: int) -> None:
        self._places = config.places
        self._rng = random.Random(seed)

    def watch_entry(self, now: datetime) -> dict[str, Any]:
        return {"category": "stolen", "reason": "demo: made-up stolen car",
                "expires_at": (now + timedelta(days=1)).isoformat()}

    def batch(self, now: datetime) -> list[dict[str, Any]]:
        """A batch of reads from the last seconds, the stolen car in some of them."""
        plates = [self._plate() for _ in range(READS_PER_BATCH)]
        if self._rng.random() < WATCHED_SHARE:
            plates[self._rng.randrange(READS_PER_BATCH)] = WATCHED_PLATE
        reads = []
        for n, plate in enumerate(plates):
            index = self._rng.randrange(len(self._places))
            place = self._places[index]
            read_at = now - timedelta(milliseconds=50 * (READS_PER_BATCH - n))
            reads.append({"camera_id": f"demo-lpr-{index}", "plate": plate, "time": read_at.isoformat(),
                          "confidence": round(self._rng.uniform(0.6, 1.0), 2),
                          "heading_deg": self._rng.choice((0, 90, 180, 270)),
                          "location": {"lon": place.lon, "lat": place.lat}})
        return reads

    def _plate(self) -> str:
        letters = "".join(self._rng.choice(string.ascii_uppercase) for _ in range(3))
        return f"{letters}-{self._rng.randrange(1, 1000)}"
