"""MQTT device intake: wearables, units, sensors and LPR cameras publish to a broker (Mosquitto); citylink
subscribes, stores what they say, and only then acknowledges.

The subscription is QoS 1 on a persistent MQTT 5 session (a fixed client id, no clean start). A message is
acknowledged (PUBACK) only once its event, reading or dead letter is committed; when the store fails, nothing
of the batch is acknowledged and the connection is dropped, so the broker delivers those messages again on
reconnect. Redelivered messages map to the same event and reading ids, and the store takes them once.
Messages that cannot be taken in become dead letters with the reason and are acknowledged: one bad device
never holds up the others. The topic layout and payloads are in mqtt_mapping and docs/integrator-guide.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.orm import Session

from citylink.adapters.mqtt_mapping import (
    SENDER_SYSTEM,
    SOS_CODE,
    Mapped,
    Rejected,
    map_message,
    position_update,
    topic_filter,
)
from citylink.domain.devices import DeviceType, Reading
from citylink.domain.events import Event
from citylink.domain.units import UnitReport
from citylink.domain.watchlist import PlateRead
from citylink.runtime.clock import Clock
from citylink.runtime.environment import SensorsTaken
from citylink.runtime.intake import Accepted, IntakeRejected, Submit
from citylink.runtime.plate_reads import ReadsTaken
from citylink.settings import MqttSettings
from citylink.store import dead_letter_repo, device_repo, unit_repo
from citylink.store.database import Database
from citylink.store.dead_letter_repo import DeadLetter

log = logging.getLogger(__name__)

# QoS 1 is the level where holding the acknowledgement keeps a message at the broker until it is stored.
# Under QoS 2 the broker hands the message over with PUBREC, before citylink could have stored it.
QOS = 1
MAX_BATCH = 512  # messages per transaction
RECEIVE_MAXIMUM = 4096
# While citylink is away the broker keeps its session, queueing what devices send (up to the broker's limit).
SESSION_EXPIRY_S = 7 * 24 * 3600
KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 10.0


class ApplySensorReadings(Protocol):
    """The platform's environment watch (EnvironmentWatch): moves sensors and alarms in the caller's transaction."""

    def apply(self, session: Session, readings: Sequence[Reading], *, now: datetime) -> SensorsTaken: ...

    def wake(self) -> None: ...


class TakeReads(Protocol):
    """The platform's plate-read intake (PlateReads.take): stores, matches, sends hits on."""

    def __call__(self, reads: Sequence[PlateRead], *, received_by: str) -> Awaitable[ReadsTaken]: ...


@dataclass(slots=True)
class IntakeStats:
    """Counts since start, for operators and the log."""

    acknowledged: int = 0  # messages done with (stored, recognised as stored before, or dead-lettered)
    events: int = 0  # new events
    readings: int = 0  # new readings
    plate_reads: int = 0  # licence-plate reads taken (a redelivered one is stored once)
    duplicates: int = 0  # events and readings stored before: redeliveries and repeats
    dead_letters: int = 0
    connections: int = 0  # successful subscriptions, the first one included


@dataclass(frozen=True, slots=True)
class _Broker:
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> _Broker:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError("the MQTT broker URL must look like mqtt://[user:password@]host[:port]")
        return cls(parts.hostname, parts.port or 1883, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def __str__(self) -> str:  # what the log shows: never the credentials
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class _Stored:
    readings: int  # new readings
    refused: int  # sensor readings of unknown sensors: dead letters
    dead_letters: int
    raised: int  # events the sensors raised (environment alarms, sensors back)


class _StoreUnavailable(Exception):
    pass


class MqttIntake:
    """Runs the subscriber as a background task between start() and stop(), reconnecting with backoff."""

    def __init__(self, settings: MqttSettings, *, db: Database, submit: Submit, take_reads: TakeReads,
                 sensors: ApplySensorReadings, clock: Clock) -> None:
        if settings.url is None:
            raise ValueError("MQTT intake needs a broker URL (settings mqtt.url)")
        self._settings = settings
        self._broker = _Broker.parse(settings.url)
        self._db = db
        self._submit = submit
        self._take_reads = take_reads
        self._sensors = sensors
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.stats = IntakeStats()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt-intake")

    async def stop(self) -> None:
        """Messages taken but not yet acknowledged stay with the broker for the next start."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        log.info("MQTT intake stopped: %s", self.stats)

    async def _run(self) -> None:
        delay = self._settings.reconnect_min_s
        while True:
            subscribed = False
            try:
                async with self._client() as client:
                    await self._subscribe(client)
                    subscribed = True
                    self.stats.connections += 1
                    log.info("MQTT intake: subscribed to %s on %s", topic_filter(self._settings.topic_prefix),
                             self._broker)
                    await self._consume(client)
            except aiomqtt.MqttError as exc:
                if subscribed:  # it was working: the broker went away, so try again soon
                    delay = self._settings.reconnect_min_s
                log.warning("MQTT broker %s: %s; reconnecting in %.2f s", self._broker, exc, delay)
            except _StoreUnavailable as exc:
                log.warning("MQTT intake: the store failed (%s); the batch stays unacknowledged for the broker to "
                            "deliver again; reconnecting in %.2f s", exc, delay)
            except Exception:  # a bug must not end device intake for the life of the process: log it, go on
                log.exception("MQTT intake: unexpected error; the batch stays unacknowledged; reconnecting in "
                              "%.2f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._settings.reconnect_max_s)

    def _client(self) -> aiomqtt.Client:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        # How many messages the broker may send before the first is acknowledged. Acknowledging only after the
        # commit makes this the most that can be batched into commits, and what stays unacknowledged here is
        # safe, unlike the broker's queue behind it, which Mosquitto caps (max_queued_messages, 1000 by
        # default) by dropping. Mosquitto's window for MQTT 3.1.1 clients is 20: 20 messages per commit.
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        client = aiomqtt.Client(self._broker.host, self._broker.port, username=self._broker.username,
                                password=self._broker.password, identifier=self._settings.client_id,
                                protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=properties,
                                keepalive=KEEPALIVE_S, timeout=CONNECT_TIMEOUT_S)
        # aiomqtt 2.5 acknowledges every message as it arrives and has no switch for it (its pull request #346
        # adds one); paho underneath has. Set before connecting: the broker may send queued messages at once.
        client._client.manual_ack_set(True)
        return client

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        topic = topic_filter(self._settings.topic_prefix)
        granted = [c.value if isinstance(c, ReasonCode) else c for c in await client.subscribe(topic, qos=QOS)]
        if granted != [QOS]:  # QoS 0 or a refusal (an ACL) would silently lose what acknowledgements protect
            raise aiomqtt.MqttError(f"the broker answered {granted} to a QoS {QOS} subscription to {topic}")

    async def _consume(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        batch: list[aiomqtt.Message] = []
        async for message in messages:
            batch.append(message)
            if len(messages) and len(batch) < MAX_BATCH:
                continue  # more already arrived: take them in the same transaction
            await self._take(batch)
            for done in batch:
                client._client.ack(done.mid, done.qos)
            self.stats.acknowledged += len(batch)
            batch = []

    async def _take(self, batch: list[aiomqtt.Message]) -> None:
        """Store everything the batch says, or raise _StoreUnavailable (nothing then gets acknowledged).

        Events go first and dead letters and readings last, in one transaction: a batch that fails half way
        and comes again finds its events already stored (they dedupe) and nothing else written twice."""
        now = self._clock()
        letters: list[DeadLetter] = []
        events: list[tuple[aiomqtt.Message, Event]] = []
        readings: list[tuple[aiomqtt.Message, Reading]] = []
        units: list[tuple[aiomqtt.Message, UnitReport]] = []
        plate_reads: list[PlateRead] = []
        for message in batch:
            mapped = self._map(message, now, letters)
            if mapped is not None and mapped.event is not None:
                events.append((message, mapped.event))
            if mapped is not None and mapped.reading is not None:
                readings.append((message, mapped.reading))
            if mapped is not None and mapped.unit is not None:
                units.append((message, mapped.unit))
            if mapped is not None and mapped.plate_read is not None:
                plate_reads.append(mapped.plate_read)
        try:
            if plate_reads:
                taken = await self._take_reads(plate_reads, received_by=self._settings.agency)
                self.stats.plate_reads += taken.reads
            updates = await self._sos_updates([r for _, r in readings])
            results = await asyncio.gather(*(self._submit_one(e) for _, e in events),
                                           *(self._submit_one(e) for e in updates), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException) and not isinstance(r, IntakeRejected)]
            if failed:
                raise failed[0]
            for (message, _), result in zip(events, results[:len(events)], strict=True):
                if isinstance(result, IntakeRejected):
                    letters.append(_dead_letter(message, f"event not accepted: {result.reason}", now))
            stored = await self._db.write(lambda s: self._store(s, letters, readings, units, now=now))
        except Exception as exc:
            raise _StoreUnavailable(type(exc).__name__) from exc
        if stored.raised:
            self._sensors.wake()
        accepted = [r for r in results if isinstance(r, Accepted)]
        created = sum(1 for r in accepted if r.created)
        self.stats.events += created
        self.stats.readings += stored.readings
        self.stats.duplicates += len(accepted) - created + len(readings) - stored.refused - stored.readings
        self.stats.dead_letters += stored.dead_letters

    def _map(self, message: aiomqtt.Message, now: datetime, letters: list[DeadLetter]) -> Mapped | None:
        topic = message.topic.value
        try:
            return map_message(topic, message.payload, prefix=self._settings.topic_prefix)
        except Rejected as exc:
            reason = str(exc)
        except Exception as exc:  # a bug in mapping must not wedge the subscriber on one message forever
            log.error("MQTT intake: mapping a message on %s failed with %s", topic, type(exc).__name__)
            reason = f"internal error ({type(exc).__name__}) while reading the message; see the server log"
        letters.append(_dead_letter(message, reason, now))
        return None

    async def _sos_updates(self, readings: list[Reading]) -> list[Event]:
        """Status 40 of the open SOS of each wearable that sent a position (an update that loses a race with
        the SOS ending is refused by intake; the position is still stored as a reading)."""
        positions = [r for r in readings if r.device_type is DeviceType.POSITION]
        if not positions:
            return []
        devices = [(r.city, r.device_id) for r in positions]
        open_sos = await self._db.read(lambda s: device_repo.open_device_incidents(
            s, devices, code=SOS_CODE, sender_system=SENDER_SYSTEM))
        return [position_update(r, occurrence=open_sos[(r.city, r.device_id)]) for r in positions
                if (r.city, r.device_id) in open_sos]

    def _submit_one(self, event: Event) -> Awaitable[Accepted]:
        return self._submit(event, received_by=self._settings.agency, correlation_id=f"mqtt-{uuid.uuid4().hex}")

    def _store(self, session: Session, letters: list[DeadLetter], readings: list[tuple[aiomqtt.Message, Reading]],
               units: list[tuple[aiomqtt.Message, UnitReport]], *, now: datetime) -> _Stored:
        unknown = unit_repo.apply_reports(session, [report for _, report in units], actor=SENDER_SYSTEM, now=now)
        letters = letters + [_dead_letter(message, f"no unit {report.unit_id} is registered "
                                                   f"(PUT /api/v1/units/{report.unit_id} first)", now)
                             for message, report in units if report.unit_id in unknown]
        sensors = self._sensors.apply(session, [r for _, r in readings], now=now)
        kept = []
        for message, reading in readings:
            if reading.device_type is DeviceType.SENSOR and reading.device_id in sensors.refused:
                letters.append(_dead_letter(message, sensors.refused[reading.device_id], now))
            else:
                kept.append(reading)
        for letter in letters:
            dead_letter_repo.add(session, letter)
        return _Stored(device_repo.add_readings(session, kept, now=now), len(readings) - len(kept), len(letters),
                       sensors.raised)


def _dead_letter(message: aiomqtt.Message, reason: str, now: datetime) -> DeadLetter:
    topic = message.topic.value
    log.warning("MQTT intake: dead letter on %s: %s", topic, reason)
    return DeadLetter(topic, message.payload, reason, now)
