"""Low-emission enforcement on the plate-read stream: which reads are violations.

Held per API process and re-read when zones or lists change: the zones (a handful of polygons, prepared), the
restricted list as a PlateSet (two million plates in 16 MB) and the exemptions. A read is a candidate when its
vehicle is restricted, not exempt, and read inside a zone while the zone is active; the store confirms the
vehicle and keeps at most one violation per vehicle, zone and day. Nothing is kept of other vehicles' reads
for this purpose (the reads themselves follow the wanted-vehicle retention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, Polygon
from sqlalchemy.orm import Session

from citylink.domain.emission_zones import Zone, local_day
from citylink.domain.watchlist import PlateRead
from citylink.geo.plate_set import PlateSet
from citylink.store import lez_repo
from citylink.store.database import Database


@dataclass(frozen=True, slots=True)
class _Placed:
    zone: Zone
    polygon: Polygon


class LowEmissionZones:
    def __init__(self, db: Database, *, timezone: str) -> None:
        self._db = db
        self._timezone = timezone
        self._zones: tuple[_Placed, ...] = ()
        self._restricted = PlateSet()
        self._exempt: frozenset[str] = frozenset()

    @property
    def restricted_count(self) -> int:
        return len(self._restricted)

    def reload(self) -> None:
        def read(session: Session) -> tuple[list[Zone], PlateSet, set[str]]:
            zones = [lez_repo.to_zone(row, self._timezone) for row in lez_repo.zone_rows(session)]
            return zones, PlateSet(lez_repo.restricted_keys(session)), lez_repo.exempt_keys(session)

        zones, restricted, exempt = self._db.read_sync(read)
        placed = []
        for zone in zones:
            polygon = Polygon(zone.ring)
            shapely.prepare(polygon)
            placed.append(_Placed(zone, polygon))
        self._zones, self._restricted, self._exempt = tuple(placed), restricted, frozenset(exempt)

    def candidates(self, reads: Sequence[PlateRead]) -> list[tuple[PlateRead, Zone, str]]:
        """(read, zone, local day) for each read of a restricted, non-exempt vehicle inside an active zone."""
        if not self._zones or not reads:
            return []
        restricted = self._restricted.contains_many([r.plate.key for r in reads])
        found = []
        for read, hit in zip(reads, restricted.tolist(), strict=True):
            if not hit or read.plate.key in self._exempt:
                continue
            for placed in self._zones:
                if placed.zone.schedule.active(read.time) and placed.polygon.contains(Point(read.lon, read.lat)):
                    found.append((read, placed.zone, local_day(read.time, self._timezone)))
        return found
