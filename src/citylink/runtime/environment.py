"""Environment: sensor readings become alarms, silent sensors become maintenance events.

Readings (MQTT or HTTP) move each registered sensor's level per measure (domain/environment.py: hysteresis and
minimum durations), in the transaction that stores them. When a level moves, the measure's alarm in the city is
worked out again under a lock on its row: the first sensor to reach a level opens an alarm incident (APLEN110
for air quality, WESEN110 for weather), a change in level or in the sensors affected updates it, and the last
sensor falling back clears it. A sensor silent for longer than its reporting interval allows is down: a
facility event (MTSUC220) until it reports again.

The events are written to the outbox in that same transaction and handed to intake after the commit, so an
alarm is decided once and never lost; a process that dies before handing them over leaves them for the next
round, and intake recognises one handed over twice (same id).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from citylink.domain.catalogue import CATALOGUE, Grade
from citylink.domain.devices import DeviceType, Reading
from citylink.domain.environment import Measure, step
from citylink.domain.events import Event, Item, Location, Sender, Status, incident_id_of, incident_key
from citylink.runtime.clock import Clock
from citylink.runtime.intake import IntakeRejected, Submit
from citylink.runtime.periodic import Periodic
from citylink.services.facility_fault import MAINTAINER_ITEM
from citylink.settings import EnvironmentSettings
from citylink.store import device_repo, outbox_repo, sensor_repo
from citylink.store.database import Database
from citylink.store.tables import EnvironmentAlarmRow, IncidentRow, SensorRow

log = logging.getLogger(__name__)

SENDER_SYSTEM = "ENV"
SENSOR_DOWN_CODE = "MTSUC220"  # facility event: disaster prevention
OUTBOX_BATCH = 200
SILENT_BATCH = 1000
OUTBOX_KEPT = timedelta(days=1)  # sent events stay a day, for an admin looking into one


@dataclass(slots=True)
class SensorsTaken:
    readings: int = 0  # readings that moved a sensor on (newer than its last)
    refused: dict[str, str] = field(default_factory=dict)  # sensor id → why its readings were not taken
    raised: int = 0  # events written to the outbox


class EnvironmentWatch:
    def __init__(self, db: Database, *, settings: EnvironmentSettings, submit: Submit, clock: Clock) -> None:
        self._db = db
        self.settings = settings
        self._measures = {m.name: m for m in settings.measures}
        self._submit = submit
        self._clock = clock
        self.checker = Periodic("environment check", settings.check_every_s, self.check)
        self.sender = Periodic("environment outbox", settings.check_every_s, self.flush)
        self._flushing = asyncio.Lock()  # one hand-over at a time keeps an incident's events in order

    # -- readings ----------------------------------------------------------------------------------------------

    def apply(self, session: Session, readings: Sequence[Reading], *, now: datetime) -> SensorsTaken:
        """Move the sensors on by their readings, and the alarms with them; in the caller's transaction."""
        taken = SensorsTaken()
        by_sensor: dict[str, list[Reading]] = defaultdict(list)
        for reading in readings:
            if reading.device_type is DeviceType.SENSOR:
                by_sensor[reading.device_id].append(reading)
        sensors = sensor_repo.locked(session, by_sensor)
        states = sensor_repo.levels(session, sensors)
        moved: set[tuple[str, str]] = set()
        heard: list[sensor_repo.Heard] = []
        silent_after: dict[str, datetime] = {}
        for sensor_id, own in by_sensor.items():
            row = sensors.get(sensor_id)
            if row is None:
                taken.refused[sensor_id] = (f"no sensor {sensor_id} is registered "
                                            f"(PUT /api/v1/sensors/{sensor_id} first)")
                continue
            if any(r.city != row.city for r in own):
                taken.refused[sensor_id] = f"sensor {sensor_id} is registered in {row.city}"
                continue
            for reading in sorted(own, key=lambda r: r.time):
                if row.last_seen_at is not None and reading.time <= row.last_seen_at:
                    continue  # late or repeated: stored as a reading, but the levels have moved past it
                taken.readings += 1
                for name, value in reading.measures.items():
                    measure = self._measures.get(name)
                    if measure is None:
                        continue
                    before_row = states.get((sensor_id, name))
                    before = sensor_repo.to_state(before_row)
                    after = step(measure, before, value, reading.time)
                    if after != before:
                        states[(sensor_id, name)] = sensor_repo.save_level(
                            session, before_row, sensor_id=sensor_id, measure=name, state=after, value=value)
                    if after.level != before.level:
                        moved.add((row.city, name))
                row.last_seen_at = reading.time
                row.last_values = {**row.last_values, **reading.measures}
            silent_after[sensor_id] = now + timedelta(seconds=row.interval_s * self.settings.down_after_intervals)
            if row.down_occurrence is not None:
                taken.raised += self._back_up(session, row, now=now)
            heard.append(row)
        # Before the alarms are worked out: they rank the sensors by their latest values.
        sensor_repo.save_heard(session, heard, silent_after=silent_after, now=now)
        for city, name in sorted(moved):
            taken.raised += self._work_out_alarm(session, city, self._measures[name], now=now)
        return taken

    def remove(self, session: Session, row: SensorRow, *, now: datetime) -> None:
        """Take a sensor out of service: its alarms go on without it (or clear), its down incident ends."""
        if row.down_occurrence is not None:
            self._back_up(session, row, now=now, content="sensor removed from the register")
        city = row.city
        alarmed = sensor_repo.remove(session, row)
        session.flush()
        for name in alarmed:
            if name in self._measures:
                self._work_out_alarm(session, city, self._measures[name], now=now)

    def _work_out_alarm(self, session: Session, city: str, measure: Measure, *, now: datetime) -> int:
        """Open, update or clear the measure's alarm in the city to match its sensors; 1 if that raised an event."""
        alarm = sensor_repo.alarm(session, city=city, measure=measure.name, now=now)
        if alarm.occurrence is not None and _ended(session, city, measure.code, alarm.occurrence):
            # An operator ended the alarm's incident by hand: a sensor still high opens a new one.
            alarm.occurrence, alarm.level, alarm.sensors = None, 0, []
        members = sensor_repo.in_alarm(session, city=city, measure=measure.name)
        members.sort(key=lambda m: (-m[1].level, -float(m[0].last_values.get(measure.name, 0.0)), m[0].id))
        current = [[s.id, lv.level, s.lon, s.lat] for s, lv in members]
        level = members[0][1].level if members else 0
        if alarm.occurrence is None and not current:
            return 0
        if alarm.occurrence is not None and current == alarm.sensors:
            return 0
        # Strictly after the alarm's last event: two changes in one clock tick must not make one event id.
        at = max(now, alarm.updated_at + timedelta(microseconds=1))
        if alarm.occurrence is None:
            status, alarm.occurrence = Status.OCCURRED, f"{measure.name}-{at:%Y%m%dT%H%M%S%f}"
        else:
            status = Status.CHANGED if current else Status.CLEARED
        event = _alarm_event(city, measure, alarm, status, level, [s for s, _ in members], at=at)
        outbox_repo.add(session, event, received_by=self.settings.agency, now=now)
        alarm.level, alarm.sensors, alarm.updated_at = level, current, at
        if status is Status.CLEARED:
            alarm.occurrence = None
        return 1

    # -- silent sensors ----------------------------------------------------------------------------------------

    async def check(self) -> int:
        """One round (workers): sensors gone silent, old readings, then hand over what is unsent."""
        now = self._clock()
        down = await self._db.write(lambda s: self._mark_silent(s, now=now))
        await self._db.write(lambda s: (
            device_repo.purge_readings(s, before=now - timedelta(hours=self.settings.reading_retention_h)),
            outbox_repo.purge_sent(s, before=now - OUTBOX_KEPT)))
        self.wake()
        return down

    def _mark_silent(self, session: Session, *, now: datetime) -> int:
        rows = sensor_repo.silent(session, now=now, limit=SILENT_BATCH)
        for row in rows:
            # The time it went silent is the event's: two workers finding it make one event.
            row.down_occurrence = f"{row.id}-down-{row.silent_after:%Y%m%dT%H%M%S}"
            seen = f"last reading {row.last_seen_at:%Y-%m-%d %H:%M:%S} UTC" if row.last_seen_at else "no reading yet"
            outbox_repo.add(session, _sensor_event(row, Status.OCCURRED, at=row.silent_after,
                                                   content=f"sensor silent: {seen}; expected every "
                                                   f"{row.interval_s:g} s"), received_by=row.agency, now=now)
        return len(rows)

    def _back_up(self, session: Session, row: SensorRow | sensor_repo.Heard, *, now: datetime,
                 content: str = "sensor reporting again") -> int:
        outbox_repo.add(session, _sensor_event(row, Status.CLEARED, at=now, content=content),
                        received_by=row.agency, now=now)
        row.down_occurrence = None
        return 1

    # -- handing events to intake ------------------------------------------------------------------------------

    def wake(self) -> None:
        """Events were written to the outbox: hand them over now rather than at the next round."""
        self.sender.wake()

    async def flush(self) -> int:
        """Hand every unsent outbox event to intake, oldest first; how many."""
        sent = 0
        async with self._flushing:
            while batch := await self._db.read(lambda s: outbox_repo.unsent(s, limit=OUTBOX_BATCH)):
                done: list[int] = []
                try:
                    for seq, event, received_by in batch:
                        with contextlib.suppress(IntakeRejected):  # never acceptable: retrying cannot help
                            await self._submit(event, received_by=received_by, correlation_id=f"outbox-{seq}")
                        done.append(seq)
                finally:
                    await self._db.write(functools.partial(outbox_repo.mark_sent, seqs=done, now=self._clock()))
                sent += len(done)
        return sent


def _ended(session: Session, city: str, code: str, occurrence: str) -> bool:
    incident = session.get(IncidentRow, incident_id_of(incident_key(city, code, occurrence)))
    return incident is not None and incident.ended_at is not None


def _alarm_event(city: str, measure: Measure, alarm: EnvironmentAlarmRow, status: Status, level: int,
                 members: Sequence[SensorRow], *, at: datetime) -> Event:
    """The alarm's event, located at its worst sensor; on clearing, where the alarm last was."""
    entry = CATALOGUE[measure.code]
    shown = measure.level(level or alarm.level)
    items = [("MEASURE", measure.name), ("LEVEL", shown.name if level else "none"),
             ("PREVIOUS_LEVEL", measure.level(alarm.level).name if alarm.level else "none"),
             ("UNIT", measure.unit), ("THRESHOLD", f"{shown.raise_at:g}")]
    if members:
        lead = members[0]
        value = float(lead.last_values.get(measure.name, 0.0))
        where, place = Location(lon=lead.lon, lat=lead.lat), lead.name
        content = f"{measure.label} {shown.name.replace('_', ' ')}: {value:g} {measure.unit} at {lead.name}"
        if len(members) > 1:
            content += f" and {len(members) - 1} more sensor{'s' if len(members) > 2 else ''}"
        items += [("VALUE", f"{value:g}"), ("SENSORS", ",".join(s.id for s in members))]
    else:
        where, place = Location(lon=alarm.sensors[0][2], lat=alarm.sensors[0][3]), ""
        content = f"{measure.label} back below {measure.levels[0].clear_below:g} {measure.unit} at every sensor"
        items.append(("SENSORS", ""))
    return Event(code=measure.code, name=entry.name_ko, grade=shown.grade if level else Grade.NORMAL, status=status,
                 occurrence=alarm.occurrence or "", location=where, place=place, content=content, time=at,
                 sender=Sender(system=SENDER_SYSTEM, city=city),
                 items=tuple(Item(key=k, val=v) for k, v in items))


def _sensor_event(row: SensorRow | sensor_repo.Heard, status: Status, *, at: datetime, content: str) -> Event:
    entry = CATALOGUE[SENSOR_DOWN_CODE]
    assert row.down_occurrence is not None
    return Event(code=SENSOR_DOWN_CODE, name=entry.name_ko, grade=entry.default_grade, status=status,
                 occurrence=row.down_occurrence, location=Location(lon=row.lon, lat=row.lat), place=row.name,
                 content=content, time=at, sender=Sender(system=SENDER_SYSTEM, city=row.city),
                 items=(Item(key="SENSOR_ID", val=row.id), Item(key="KIND", val="sensor_down"),
                        Item(key=MAINTAINER_ITEM, val=row.agency)))
