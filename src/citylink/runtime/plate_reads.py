"""Licence-plate reads in: matched against the watch list, stored, and a hit made a wanted-vehicle event.

Every read is stored first (a hit's evidence must survive whatever follows); a read that hits nothing is kept
only for settings.lpr.unmatched_retention_h and seen by the watch-list agency alone. A hit becomes an LPRUM120
event through the ordinary intake, so the wanted-vehicle service acts on it as on any event: the first hit of
an entry opens the incident (status 10), later hits move it (status 40) and make up the vehicle's track.
Plates are personal data: they go in the PLATE item (masked in the stream) and never in a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from citylink.domain.catalogue import CATALOGUE
from citylink.domain.devices import device_occurrence
from citylink.domain.emission_zones import Zone
from citylink.domain.events import Event, Item, Location, Sender, Status
from citylink.domain.watchlist import PlateRead, WatchEntry, WatchList
from citylink.runtime.clock import Clock
from citylink.runtime.emission_zones import LowEmissionZones
from citylink.runtime.intake import IntakeRejected, Submit
from citylink.runtime.periodic import Periodic
from citylink.settings import LprSettings
from citylink.store import lez_repo, lpr_repo
from citylink.store.database import Database

log = logging.getLogger(__name__)

HIT_CODE = "LPRUM120"
SENDER_SYSTEM = "LPR"
RETENTION_PERIOD_S = 600.0  # how often unmatched reads past their retention are deleted


@dataclass(slots=True)
class ReadsTaken:
    reads: int = 0  # distinct reads taken (a read sent again is stored once)
    hits: list[str] = field(default_factory=list)  # incident ids the new hits went to


class PlateReads:
    def __init__(self, db: Database, *, settings: LprSettings, submit: Submit, clock: Clock, city: str,
                 zones: LowEmissionZones) -> None:
        self._db = db
        self.zones = zones
        self._settings = settings
        self._submit = submit
        self._clock = clock
        self._city = city
        self.watch = WatchList()
        self.retention = Periodic("plate-read retention", RETENTION_PERIOD_S, self._purge_logged)

    def reload(self) -> None:
        """Read the watch list again (at start, and when it changed in this or another process)."""
        self.watch = WatchList(self._db.read_sync(lpr_repo.entries))

    def _store(self, session: Session, matched: list[tuple[PlateRead, WatchEntry | None]],
               violations: list[tuple[PlateRead, Zone, str]], now: datetime) -> set[str]:
        unsent = lpr_repo.add_reads(session, [(r, e.id if e else None) for r, e in matched],
                                    low_confidence=self._settings.low_confidence, now=now)
        lez_repo.record_violations(session, violations)
        return unsent

    async def take(self, reads: Sequence[PlateRead], *, received_by: str) -> ReadsTaken:
        """Store the reads, then send each new hit to intake. Raises when the store fails (nothing is lost:
        the caller answers with an error, and the sender sends again)."""
        now = self._clock()
        matched = [(read, self.watch.match(read.plate, read.time)) for read in reads]
        # Reads commit like derived effects (without waiting for the disk, docs/decisions.md): what must survive
        # a power cut is the hit, and a hit becomes an event through intake, which does wait for the disk.
        violations = self.zones.candidates(reads)
        unsent = await self._db.write_derived(lambda s: self._store(s, matched, violations, now))
        taken = ReadsTaken(reads=len({r.id for r in reads}))
        by_entry: dict[str, list[tuple[PlateRead, WatchEntry]]] = {}
        for read, entry in matched:
            if entry is not None and read.id in unsent:
                by_entry.setdefault(entry.id, []).append((read, entry))
        # One vehicle's hits in time order (the first opens its incident, the later ones move it); different
        # vehicles at once.
        for incidents in await asyncio.gather(*(self._hits(sorted(hits, key=lambda h: h[0].time), received_by)
                                                for hits in by_entry.values())):
            taken.hits += incidents
        if by_entry:
            sent = [read.id for hits in by_entry.values() for read, _ in hits]
            await self._db.write_derived(lambda s: lpr_repo.mark_hits_sent(s, sent))
        return taken

    async def _hits(self, hits: list[tuple[PlateRead, WatchEntry]], received_by: str) -> list[str]:
        return [await self._hit(read, entry, received_by=received_by) for read, entry in hits]

    async def _hit(self, read: PlateRead, entry: WatchEntry, *, received_by: str) -> str:
        occurrence = await self._db.read(lambda s: lpr_repo.open_hit_occurrence(
            s, entry.id, code=HIT_CODE, sender_system=SENDER_SYSTEM))
        status = Status.CHANGED if occurrence else Status.OCCURRED
        event = self._event(read, entry, status, occurrence or device_occurrence(entry.id, read.time))
        try:
            accepted = await self._submit(event, received_by=received_by, correlation_id=f"lpr-{read.id}")
        except IntakeRejected as exc:  # the incident was ended between the lookup and now: open a new one
            log.info("wanted-vehicle hit reopened after %s", exc.reason)
            event = self._event(read, entry, Status.OCCURRED, device_occurrence(entry.id, read.time))
            accepted = await self._submit(event, received_by=received_by, correlation_id=f"lpr-{read.id}")
        return accepted.incident_id

    def _event(self, read: PlateRead, entry: WatchEntry, status: Status, occurrence: str) -> Event:
        entry_meta = CATALOGUE[HIT_CODE]
        low = read.low_confidence(self._settings.low_confidence)
        items = [("PLATE", read.plate.text), ("WATCH_CATEGORY", entry.category.value), ("CAMERA_ID", read.camera_id),
                 ("CONFIDENCE", f"{read.confidence:.3f}"), ("LOW_CONFIDENCE", "yes" if low else None),
                 ("HEADING_DEG", None if read.heading_deg is None else f"{read.heading_deg:g}"),
                 ("IMAGE_URL", read.image_url)]
        return Event(code=HIT_CODE, name=entry_meta.name_ko, grade=entry_meta.default_grade, status=status,
                     occurrence=occurrence, location=Location(lon=read.lon, lat=read.lat),
                     place=f"LPR camera {read.camera_id}", time=read.time,
                     content=f"{entry.category.value} vehicle on the watch list read by LPR camera {read.camera_id}",
                     sender=Sender(system=SENDER_SYSTEM, city=self._city),
                     items=tuple(Item(key=k, val=v) for k, v in items if v is not None))

    # -- retention ---------------------------------------------------------------------------------------------

    async def purge(self) -> int:
        before = self._clock() - timedelta(hours=self._settings.unmatched_retention_h)
        return await self._db.write(lambda s: lpr_repo.purge_unmatched(s, before=before))

    async def _purge_logged(self) -> None:
        purged = await self.purge()
        if purged:
            log.info("deleted %d plate reads that hit nothing, past their retention", purged)
