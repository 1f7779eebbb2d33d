"""What the store knows about devices: their readings, and the open SOS incident of a wearable."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from citylink.domain.devices import Reading, occurrence_device
from citylink.store.database import table_of
from citylink.store.tables import IncidentRow, ReadingRow

_READINGS = table_of(ReadingRow)


def add_readings(session: Session, readings: Sequence[Reading], *, now: datetime) -> int:
    """Insert the readings not stored yet (a redelivered message carries the same id); how many were new."""
    fresh = {r.id: r for r in readings}
    if not fresh:
        return 0
    known = set(session.execute(select(ReadingRow.id).where(ReadingRow.id.in_(list(fresh)))).scalars())
    rows = [{"id": r.id, "city": r.city, "device_type": r.device_type.value, "device_id": r.device_id,
             "time": r.time, "received_at": now, "lon": r.lon, "lat": r.lat, "measures": r.measures}
            for r in fresh.values() if r.id not in known]
    if rows:
        # Core on the connection, not the ORM's bulk path: half the time at a thousand readings a second.
        session.connection().execute(insert(_READINGS), rows)
    return len(rows)


def open_device_incidents(session: Session, devices: Iterable[tuple[str, str]], *, code: str,
                          sender_system: str) -> dict[tuple[str, str], str]:
    """(city, device id) → occurrence number of the newest open incident with this code that the device
    raised (its occurrence number made by device_occurrence) through this sender system."""
    wanted = set(devices)
    if not wanted:
        return {}
    query = (select(IncidentRow.sender_city, IncidentRow.occurrence)
             .where(IncidentRow.code == code, IncidentRow.sender_system == sender_system,
                    IncidentRow.ended_at.is_(None), IncidentRow.sender_city.in_({city for city, _ in wanted}))
             .order_by(IncidentRow.opened_at))
    found: dict[tuple[str, str], str] = {}
    # Few such incidents (SOS) are open at any time, so matching the device in Python costs less than an index would.
    for city, occurrence in session.execute(query):
        key = (city, occurrence_device(occurrence))
        if key in wanted:
            found[key] = occurrence  # ordered by opening time: the newest wins
    return found


def purge_readings(session: Session, *, before: datetime) -> int:
    """Delete readings received before the time; how many went."""
    result = session.execute(delete(ReadingRow).where(ReadingRow.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def series(session: Session, *, city: str, device_ids: Sequence[str], since: datetime,
           until: datetime) -> list[ReadingRow]:
    """The devices' readings taken in [since, until), oldest first."""
    query = (select(ReadingRow).where(ReadingRow.city == city, ReadingRow.device_id.in_(list(device_ids)),
                                      ReadingRow.time >= since, ReadingRow.time < until)
             .order_by(ReadingRow.time))
    return list(session.execute(query).scalars())
