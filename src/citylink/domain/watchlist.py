"""The police watch list of wanted vehicles, and licence-plate reads matched against it. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from citylink.domain.plates import Plate


class WatchCategory(StrEnum):
    WANTED = "wanted"  # sought in an investigation
    STOLEN = "stolen"
    URGENT = "urgent"  # e.g. a kidnapping or a hit-and-run in progress


@dataclass(frozen=True, slots=True)
class WatchEntry:
    id: str
    plate: Plate
    category: WatchCategory
    reason: str
    expires_at: datetime
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One read of one LPR camera. The id is derived from camera, plate and time: a read sent twice is one read."""

    id: str
    camera_id: str
    plate: Plate
    time: datetime
    lon: float
    lat: float
    confidence: float  # 0-1, as the camera reports it
    heading_deg: float | None
    image_url: str | None

    def low_confidence(self, threshold: float) -> bool:
        return self.confidence < threshold


_READ_NAMESPACE = uuid.UUID("5f1d2c4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f")


def read_id(camera_id: str, plate: Plate, time: datetime) -> str:
    """The same read sent twice (an MQTT redelivery, a batch sent again) gets the same id."""
    return str(uuid.uuid5(_READ_NAMESPACE, f"{camera_id}|{plate.text}|{time.astimezone(UTC).isoformat()}"))


class WatchList:
    """The live entries by match key: a read is matched with one dictionary lookup."""

    def __init__(self, entries: Iterable[WatchEntry] = ()) -> None:
        self._by_key: dict[str, list[WatchEntry]] = {}
        for entry in entries:
            self._by_key.setdefault(entry.plate.key, []).append(entry)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def match(self, plate: Plate, at: datetime) -> WatchEntry | None:
        """The entry the plate hits at that time (the soonest to expire if several), or None."""
        candidates = self._by_key.get(plate.key)
        if not candidates:
            return None
        live = [e for e in candidates if e.expires_at > at and e.plate.same_vehicle(plate)]
        return min(live, key=lambda e: e.expires_at) if live else None
