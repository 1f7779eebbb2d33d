"""What the store knows about environment sensors: the register, each sensor's level per measure, and the alarm
of each measure in each city."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from citylink.domain.environment import MeasureState
from citylink.store.database import conflict_insert, table_of
from citylink.store.tables import EnvironmentAlarmRow, SensorLevelRow, SensorRow


def get(session: Session, sensor_id: str) -> SensorRow | None:
    return session.get(SensorRow, sensor_id)


def listed(session: Session, *, city: str | None = None) -> list[SensorRow]:
    query = select(SensorRow).order_by(SensorRow.id)
    if city is not None:
        query = query.where(SensorRow.city == city)
    return list(session.execute(query).scalars())


def listed_by_id(session: Session, sensor_ids: Iterable[str]) -> list[SensorRow]:
    ids = list(set(sensor_ids))
    return list(session.execute(select(SensorRow).where(SensorRow.id.in_(ids))).scalars()) if ids else []


@dataclass(slots=True)
class Heard:
    """What a batch of readings needs of a sensor's row, and what it changes (saved by save_heard). A plain
    record, not an ORM object: at a thousand readings a second, loading and flushing objects took two thirds of
    the time (measured)."""

    id: str
    city: str
    name: str
    agency: str
    lon: float
    lat: float
    interval_s: float
    last_seen_at: datetime | None
    last_values: dict[str, Any]
    down_occurrence: str | None


_SENSORS = table_of(SensorRow)
_HEARD = (SensorRow.id, SensorRow.city, SensorRow.name, SensorRow.agency, SensorRow.lon, SensorRow.lat,
          SensorRow.interval_s, SensorRow.last_seen_at, SensorRow.last_values, SensorRow.down_occurrence)


def locked(session: Session, sensor_ids: Iterable[str]) -> dict[str, Heard]:
    """The sensors with these ids, locked for this transaction in id order (two processes taking readings of
    the same sensors wait for each other instead of deadlocking)."""
    ids = sorted(set(sensor_ids))
    if not ids:
        return {}
    query = select(*_HEARD).where(SensorRow.id.in_(ids)).order_by(SensorRow.id).with_for_update()
    return {row.id: Heard(*row) for row in session.execute(query)}


def save_heard(session: Session, heard: Iterable[Heard], *, silent_after: dict[str, datetime], now: datetime) -> None:
    """One UPDATE per batch (executemany by primary key), in Core: the ORM's bulk path took twice as long."""
    rows = [{"sensor": h.id, "seen": h.last_seen_at, "values": h.last_values, "down": h.down_occurrence,
             "due": silent_after[h.id]} for h in heard]
    if rows:
        statement = (update(_SENSORS).where(_SENSORS.c.id == bindparam("sensor"))
                     .values(last_seen_at=bindparam("seen"), last_values=bindparam("values"),
                             down_occurrence=bindparam("down"), silent_after=bindparam("due"), updated_at=now))
        session.connection().execute(statement, rows)


def levels(session: Session, sensor_ids: Iterable[str]) -> dict[tuple[str, str], SensorLevelRow]:
    ids = list(set(sensor_ids))
    if not ids:
        return {}
    rows = session.execute(select(SensorLevelRow).where(SensorLevelRow.sensor_id.in_(ids))).scalars()
    return {(row.sensor_id, row.measure): row for row in rows}


def to_state(row: SensorLevelRow | None) -> MeasureState:
    if row is None:
        return MeasureState()
    return MeasureState(row.level, row.pending, row.since, row.changed_at)


def save_level(session: Session, row: SensorLevelRow | None, *, sensor_id: str, measure: str,
               state: MeasureState, value: float) -> SensorLevelRow:
    if row is None:
        row = SensorLevelRow(sensor_id=sensor_id, measure=measure)
        session.add(row)
    row.level, row.pending, row.since, row.changed_at, row.value = (state.level, state.pending, state.since,
                                                                    state.changed_at, value)
    return row


def in_alarm(session: Session, *, city: str, measure: str) -> list[tuple[SensorRow, SensorLevelRow]]:
    """The city's sensors at level 1 or above on the measure, the highest level and value first."""
    query = (select(SensorRow, SensorLevelRow).join(SensorLevelRow, SensorLevelRow.sensor_id == SensorRow.id)
             .where(SensorRow.city == city, SensorLevelRow.measure == measure, SensorLevelRow.level > 0)
             .order_by(SensorLevelRow.level.desc(), SensorLevelRow.value.desc(), SensorRow.id)
             # The batch's values were written past the ORM (save_heard): objects loaded earlier are stale.
             .execution_options(populate_existing=True))
    return [(sensor, level) for sensor, level in session.execute(query)]


def alarm(session: Session, *, city: str, measure: str, now: datetime) -> EnvironmentAlarmRow:
    """The measure's alarm row in the city, created when missing, locked for this transaction."""
    session.execute(conflict_insert(session)(EnvironmentAlarmRow)
                    .values(city=city, measure=measure, occurrence=None, level=0, sensors=[], updated_at=now)
                    .on_conflict_do_nothing(index_elements=["city", "measure"]))
    query = (select(EnvironmentAlarmRow)
             .where(EnvironmentAlarmRow.city == city, EnvironmentAlarmRow.measure == measure).with_for_update())
    return session.execute(query).scalar_one()


def register(session: Session, row: SensorRow) -> tuple[SensorRow, bool]:
    """Create the sensor, or update where it stands and how it reports; True when it was created."""
    existing = session.get(SensorRow, row.id)
    if existing is None:
        session.add(row)
        return row, True
    existing.city, existing.name, existing.agency = row.city, row.name, row.agency
    existing.lon, existing.lat, existing.interval_s = row.lon, row.lat, row.interval_s
    if existing.last_seen_at is None:  # still waiting for its first reading: by the new interval
        existing.silent_after = row.silent_after
    existing.updated_at = row.updated_at
    return existing, False


def remove(session: Session, row: SensorRow) -> list[str]:
    """Delete the sensor and its levels; the measures it was in alarm on."""
    alarmed = [lv.measure for lv in session.execute(select(SensorLevelRow).where(
        SensorLevelRow.sensor_id == row.id)).scalars() if lv.level > 0]
    session.execute(delete(SensorLevelRow).where(SensorLevelRow.sensor_id == row.id))
    session.delete(row)
    return alarmed


def silent(session: Session, *, now: datetime, limit: int) -> Sequence[SensorRow]:
    """Sensors not heard from in time and not yet known to be down; locked, skipping those another worker holds."""
    query = (select(SensorRow).where(SensorRow.silent_after < now, SensorRow.down_occurrence.is_(None))
             .order_by(SensorRow.silent_after).limit(limit).with_for_update(skip_locked=True))
    return list(session.execute(query).scalars())
