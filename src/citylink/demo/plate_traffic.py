"""The demo's licence-plate traffic: made-up reads from made-up LPR cameras at the demo's places, one made-up
stolen car on the police watch list and three made-up old cars barred from the low-emission zone (one of them
exempt) that turn up now and then. No real plate is used."""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta
from typing import Any

from citylink.demo import DemoConfig

WATCHED_PLATE = "XYZ-999"  # made up; on the demo's watch list as stolen
RESTRICTED_PLATES = ("OLD-501", "OLD-502", "OLD-503")  # made up; barred from the demo's low-emission zone
EXEMPT_PLATE = "OLD-503"  # made up; exempt (retrofitted)
RESTRICTED_SHARE = 0.5  # batches in which a restricted car passes a camera
READS_PER_BATCH = 20
WATCHED_SHARE = 0.3  # batches in which the stolen car passes a camera


class PlateTraffic:
    def __init__(self, config: DemoConfig, *, seed: int) -> None:
        self._places = config.places
        self._rng = random.Random(seed)

    def watch_entry(self, now: datetime) -> dict[str, Any]:
        return {"category": "stolen", "reason": "demo: made-up stolen car",
                "expires_at": (now + timedelta(days=1)).isoformat()}

    def zone(self, bbox: tuple[float, float, float, float]) -> dict[str, Any]:
        """The demo's low-emission zone: the whole demo area, every day, all day."""
        w, s, e, n = bbox
        return {"name": "Demo low-emission zone (made up)", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00", "end": "00:00",
                "area": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}

    def batch(self, now: datetime) -> list[dict[str, Any]]:
        """A batch of reads from the last seconds, the stolen car in some of them."""
        plates = [self._plate() for _ in range(READS_PER_BATCH)]
        if self._rng.random() < WATCHED_SHARE:
            plates[self._rng.randrange(READS_PER_BATCH)] = WATCHED_PLATE
        if self._rng.random() < RESTRICTED_SHARE:
            plates[self._rng.randrange(READS_PER_BATCH)] = self._rng.choice(RESTRICTED_PLATES)
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
