"""The watch list and the licence-plate reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from citylink.domain.plates import Plate
from citylink.domain.watchlist import PlateRead, WatchCategory, WatchEntry
from citylink.store.database import conflict_insert, table_of
from citylink.store.tables import IncidentRow, PlateReadRow, WatchRow

_PLATE_READS = table_of(PlateReadRow)


def to_entry(row: WatchRow) -> WatchEntry:
    return WatchEntry(row.id, Plate(row.plate_text, row.plate_key, row.region), WatchCategory(row.category),
                      row.reason, row.expires_at, row.added_by, row.added_at)


def entry_rows(session: Session) -> list[WatchRow]:
    return list(session.execute(select(WatchRow).order_by(WatchRow.added_at)).scalars())


def entries(session: Session) -> list[WatchEntry]:
    return [to_entry(r) for r in entry_rows(session)]


def entry_by_plate(session: Session, plate_text: str) -> WatchRow | None:
    return session.execute(select(WatchRow).where(WatchRow.plate_text == plate_text)).scalar_one_or_none()


def put_entry(session: Session, entry: WatchEntry) -> tuple[WatchRow, bool]:
    """Add the entry, or change the one for the same plate (which keeps its id); (row, created)."""
    row = entry_by_plate(session, entry.plate.text)
    created = row is None
    if row is None:
        row = WatchRow(id=entry.id, plate_text=entry.plate.text, plate_key=entry.plate.key, region=entry.plate.region,
                       added_by=entry.added_by, added_at=entry.added_at)
        session.add(row)
    row.category, row.reason, row.expires_at = entry.category.value, entry.reason, entry.expires_at
    return row, created


def remove_entry(session: Session, row: WatchRow) -> None:
    session.delete(row)


def add_reads(session: Session, reads: Sequence[tuple[PlateRead, str | None]], *, low_confidence: float,
              now: datetime) -> set[str]:
    """Store reads (with the watch entry each hit, or None) not stored before, a repeat ignored by its id.
    Returns the ids of the hits whose wanted-vehicle event has not been sent yet: new ones, and ones stored by an
    earlier attempt that failed before sending (the sender's retry must not lose the hit, nor alert twice)."""
    fresh = {read.id: (read, hit) for read, hit in reads}
    if not fresh:
        return set()
    hit_ids = [read_id for read_id, (_, hit) in fresh.items() if hit is not None]
    sent = (set(session.execute(select(PlateReadRow.id).where(PlateReadRow.id.in_(hit_ids),
                                                              PlateReadRow.hit_sent.is_(True))).scalars())
            if hit_ids else set())
    rows = [{"id": r.id, "camera_id": r.camera_id, "plate_text": r.plate.text, "plate_key": r.plate.key,
             "time": r.time, "received_at": now, "lon": r.lon, "lat": r.lat, "confidence": r.confidence,
             "low_confidence": r.low_confidence(low_confidence), "heading_deg": r.heading_deg,
             "image_url": r.image_url, "hit_entry_id": hit, "hit_sent": False} for r, hit in fresh.values()]
    insert = conflict_insert(session)
    # Most reads hit nothing: one INSERT … ON CONFLICT DO NOTHING for the batch, no look-up first.
    # Core on the connection, not the ORM's bulk path: a third of the time for a batch of a thousand.
    session.connection().execute(insert(_PLATE_READS).on_conflict_do_nothing(index_elements=["id"]), rows)
    return set(hit_ids) - sent


def mark_hits_sent(session: Session, read_ids: Sequence[str]) -> None:
    if read_ids:
        session.execute(update(PlateReadRow).where(PlateReadRow.id.in_(list(read_ids))).values(hit_sent=True))


def reads_of(session: Session, plate_key: str, *, limit: int) -> list[PlateReadRow]:
    query = (select(PlateReadRow).where(PlateReadRow.plate_key == plate_key)
             .order_by(PlateReadRow.time.desc()).limit(limit))
    return list(session.execute(query).scalars())


def purge_unmatched(session: Session, *, before: datetime) -> int:
    """Delete the reads that hit nothing and are older than before; how many went."""
    result = session.execute(delete(PlateReadRow).where(PlateReadRow.hit_entry_id.is_(None),
                                                        PlateReadRow.time < before))
    return int(getattr(result, "rowcount", 0) or 0)


def open_hit_occurrence(session: Session, entry_id: str, *, code: str, sender_system: str) -> str | None:
    """The occurrence number of the open wanted-vehicle incident of a watch entry, if there is one."""
    query = (select(IncidentRow.occurrence)
             .where(IncidentRow.code == code, IncidentRow.sender_system == sender_system,
                    IncidentRow.occurrence.startswith(f"{entry_id}-"), IncidentRow.ended_at.is_(None))
             .order_by(IncidentRow.opened_at.desc()).limit(1))
    return session.execute(query).scalar_one_or_none()
