"""The running platform: one object that owns the store, index, bus, services and background workers."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.adapters.mqtt_intake import MqttIntake
from citylink.auth.grant_tokens import GrantSigner
from citylink.auth.sessions import SessionSigner
from citylink.bus.jetstream import JetStreamBus
from citylink.bus.jetstream_feed import FeedItem, JetStreamFeed
from citylink.bus.memory import MemoryBus
from citylink.bus.nats_link import NatsLink
from citylink.bus.port import Bus, EventMessage, Feed
from citylink.domain.actions import Action, GrantVideo
from citylink.domain.agencies import DEFAULT_AGENCIES, DEFAULT_ROLES, Role
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.cameras import Camera
from citylink.domain.events import Event
from citylink.geo.basemap import Basemap, load_basemap
from citylink.geo.camera_index import CameraIndex
from citylink.runtime.cap_alerts import CapAlerts
from citylink.runtime.clock import Clock, utc_now
from citylink.runtime.emission_zones import LowEmissionZones
from citylink.runtime.environment import EnvironmentWatch
from citylink.runtime.executor import Applied, Executor
from citylink.runtime.incident_plans import IncidentPlanner, PlannedRoutes
from citylink.runtime.inline_services import InlineServices
from citylink.runtime.intake import Intake
from citylink.runtime.linkage_in import LinkageIn
from citylink.runtime.linkage_out import LinkageOut
from citylink.runtime.notifier import Notifier
from citylink.runtime.periodic import Periodic
from citylink.runtime.plate_reads import PlateReads
from citylink.runtime.routing_plans import RoutingPlans
from citylink.runtime.safe_return import SafeReturn
from citylink.runtime.stream import StreamHub, StreamMessage
from citylink.runtime.video_access import Decision, VideoAccess, VideoAuthRequest
from citylink.runtime.views import grant_view
from citylink.services.base import Service
from citylink.services.registry import Registry, default_registry
from citylink.settings import Settings
from citylink.store import agency_repo, audit_repo, camera_repo, incident_repo, relay_repo, traffic_repo
from citylink.store.database import Database
from citylink.store.tables import GrantRow, IncidentRow

log = logging.getLogger(__name__)
T = TypeVar("T")

BOOTSTRAP_KEYS_FILE = "bootstrap-keys.json"
RELAY_BATCH = 2000
# More cameras than this in one change: other processes reload their index instead of reading a message each.
CAMERA_CHANGES_PER_MESSAGE = 200
SIGNING_KEY_FILE = "grant-signing-key.pem"
SESSION_SECRET_FILE = "session-secret"
LINKAGE_AUDIENCE = "citylink-linkage"


class IncidentEnded(ValueError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"incident {incident_id} has ended; it can no longer be changed or shared")


class NothingToShare(ValueError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"incident {incident_id} has no selected cameras to share")


@dataclass(frozen=True, slots=True)
class Bootstrap:
    keys_file: Path
    created: bool


class Platform:
    def __init__(self, settings: Settings, db: Database, *, bus: Bus, clock: Clock, registry: Registry,
                 signer: GrantSigner, index: CameraIndex, link: NatsLink | None = None) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.clock = clock
        self.registry = registry
        self.signer = signer
        self.index = index
        self.hub = StreamHub(replay=settings.stream_replay)
        self._link = link
        # With a broker, feed messages go through it so that every API process hears every worker.
        self._broker_feed = (JetStreamFeed(link, city=settings.city_code, replay=settings.stream_replay)
                             if link is not None else None)
        self.feed: Feed = self._broker_feed or self.hub
        self.intake = Intake(db, bus=bus, hub=self.feed, registry=registry, clock=clock)
        self.plate_reads = PlateReads(db, settings=settings.lpr, submit=self.submit, clock=clock,
                                      city=settings.city_code,
                                      zones=LowEmissionZones(db, timezone=settings.timezone))
        self.safe_return = SafeReturn(db, settings=settings.safe_return, submit=self.submit, clock=clock,
                                      city=settings.city_code, routing=self.routing)
        self.environment = EnvironmentWatch(db, settings=settings.environment, submit=self.submit, clock=clock)
        self.mqtt = (MqttIntake(settings.mqtt, db=db, submit=self.submit, take_reads=self.plate_reads.take,
                                sensors=self.environment, clock=clock)
                     if settings.mqtt.url else None)
        self.executor = Executor(settings=settings, index=index, signer=signer, registry=registry, clock=clock)
        self.video = VideoAccess(signer)
        self.notifier = Notifier(db, settings=settings.notify, clock=clock)
        self.planner = IncidentPlanner(self.routing, db=db, index=index,
                                       unit_max_age_s=settings.unit_position_max_age_s)
        self.personal_keys = frozenset(settings.services.personal_item_keys)
        self.sessions = SessionSigner.load_or_create(settings.data_dir / SESSION_SECRET_FILE,
                                                     ttl=timedelta(seconds=settings.session_ttl_s))
        self.linkage_in = LinkageIn(db, settings=settings.linkage, city=settings.city_code, submit=self.intake.submit,
                                    clock=clock, sessions=SessionSigner.load_or_create(
                                        settings.data_dir / SESSION_SECRET_FILE, audience=LINKAGE_AUDIENCE,
                                        ttl=timedelta(seconds=settings.linkage.session_ttl_s)))
        self.linkage_out = LinkageOut(db, settings=settings.linkage, city=settings.city_code, clock=clock)
        self.cap = CapAlerts(db, settings=settings, submit=self.submit, clock=clock)
        self._unsubscribe: list[Any] = []
        relay_every_s = max(settings.relay_after_s / 3, 0.5)
        self._relay = Periodic("relay of undispatched events", relay_every_s, self._relay_round,
                               first_after_s=relay_every_s)
        self._warm_up: asyncio.Future[None] | None = None
        self._basemap: Basemap | None = None
        self._routing: RoutingPlans | None = None
        self._audited_allows: dict[tuple[str, str], datetime] = {}

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utc_now, bus: Bus | None = None) -> Platform:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database.open(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        signer = GrantSigner.load_or_create(settings.data_dir / SIGNING_KEY_FILE, issuer=settings.grants.issuer)
        index = CameraIndex.from_cameras(db.read_sync(camera_repo.all_cameras))
        link = (NatsLink(settings.nats_url, name=f"citylink-{settings.role}-{os.getpid()}",
                         namespace=settings.nats_namespace)
                if settings.nats_url else None)
        if bus is None:
            bus = (JetStreamBus(link, cities=settings.worker_cities, ack_wait_s=settings.nats_ack_wait_s)
                   if link is not None else MemoryBus())
        return cls(settings, db, bus=bus, clock=clock, registry=default_registry(settings), signer=signer,
                   index=index, link=link)

    @property
    def serves_api(self) -> bool:
        return self.settings.role in ("all", "api")

    @property
    def works(self) -> bool:
        return self.settings.role in ("all", "worker")

    def bootstrap(self) -> Bootstrap:
        """On an empty store: the default agencies, one key each, written to DIR/bootstrap-keys.json (0600)."""
        path = self.settings.data_dir / BOOTSTRAP_KEYS_FILE
        if self.db.read_sync(agency_repo.has_agencies):
            return Bootstrap(path, created=False)
        now = self.clock()

        def create(session: Any) -> dict[str, str]:
            keys = {}
            for agency in DEFAULT_AGENCIES:
                agency_repo.upsert_agency(session, agency, now=now)
                _, keys[agency.id] = agency_repo.issue_key(session, agency.id,
                                                           DEFAULT_ROLES.get(agency.id, Role.AGENCY), now=now)
                audit_repo.append(session, AuditEntry(AuditAction.AGENCY_CHANGED, "system", agency.id,
                                                      {"created": True}, now))
            return keys

        keys = self.db.write_sync(create)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(keys, fh, indent=2)
        return Bootstrap(path, created=True)

    async def start(self) -> None:
        if self.works:
            for service in self.registry.services:
                self._unsubscribe.append(self.bus.subscribe(service.name, service.codes, self._handler(service)))
            # ... and in intake's transaction, where they can (inline_services.py)
            self.intake.run_services(InlineServices(self.registry, self.executor, on_writer=self.planner.on_writer,
                                                    publish=self._publish))
        await self.bus.start()
        if self._broker_feed is not None:
            await self._broker_feed.start()
            await self._broker_feed.follow(self._on_feed, shared_state_only=not self.serves_api)
        # Workers submit too (overdue walks, silent sensors), so every role runs intake.
        await self.intake.start()
        self.environment.sender.start()
        if self.serves_api:
            await self.run_blocking(self.plate_reads.reload)
            await self.run_blocking(self.plate_reads.zones.reload)
            if self.mqtt is not None:
                await self.mqtt.start()
        if self.works:
            await self.notifier.start()
            self.plate_reads.retention.start()
            self.safe_return.checker.start()
            self.environment.checker.start()
            if self.settings.linkage.partners:
                self.linkage_out.sender.start()
            if self.settings.cap.receivers:
                self.cap.pusher.start()
            routing = self.routing()
            if routing is not None:  # the first 119 or 112 call should not wait for the road network's import
                self._warm_up = asyncio.get_running_loop().run_in_executor(None, routing.warm_up)
            if self._link is None:
                await self.relay_undispatched()
            else:
                self._relay.start()

    async def stop(self) -> None:
        if self.mqtt is not None:  # before intake: its pending submits wait on intake
            await self.mqtt.stop()
        await self._relay.stop()
        await self.plate_reads.retention.stop()
        await self.safe_return.checker.stop()
        await self.environment.checker.stop()
        await self.environment.sender.stop()
        await self.linkage_out.sender.stop()
        await self.cap.pusher.stop()
        await self.intake.stop()
        await self.bus.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._broker_feed is not None:
            await self._broker_feed.stop()
        if self._link is not None:
            await self._link.close()
        await self.notifier.close()
        await self.linkage_out.close()
        await self.cap.close()
        self.db.close()

    async def relay_undispatched(self, *, received_before: datetime | None = None) -> int:
        """Events stored but not yet handled by all their services are published again; handlers dedupe.

        With the in-process bus this runs once at start (what a stop left behind). With a broker it runs
        every few seconds in the workers: it also covers an API process that died between committing an
        event and publishing it, and a broker that was down at that moment."""
        rows = await self.db.read(lambda s: relay_repo.undispatched(s, received_before=received_before,
                                                                     limit=RELAY_BATCH if self._link else None))
        for seq, payload, effect in rows:
            await self.bus.publish(EventMessage(Event.model_validate(payload), f"relay-{seq}", effect))
        if rows:
            log.info("relayed %d events that were stored but not yet handled by their services", len(rows))
        return len(rows)

    async def _relay_round(self) -> None:
        await self.relay_undispatched(received_before=self.clock() - timedelta(seconds=self.settings.relay_after_s))

    def _on_feed(self, item: FeedItem) -> None:
        if self.serves_api:
            self.hub.deliver(StreamMessage(item.seq, item.type, item.data, item.audience, item.public))
        if item.type == "camera.changed":
            self._apply_camera_change(item.data)
        elif item.type == "traffic.changed" and self._routing is not None:
            self._routing.apply_traffic()  # another process took a traffic report
        elif item.type == "watchlist.changed" and self.serves_api:
            self.plate_reads.reload()  # reads are matched where they come in
        elif item.type == "lez.changed" and self.serves_api:
            self.plate_reads.zones.reload()

    def _apply_camera_change(self, data: dict[str, Any]) -> None:
        """Another process changed cameras: keep this process's index (used for selection) the same."""
        if data.get("reload"):
            self.index.replace_all(self.db.read_sync(camera_repo.all_cameras))
        elif "camera" in data:
            self.index.upsert(Camera.model_validate(data["camera"]))
        elif "removed" in data:
            self.index.remove(str(data["removed"]))

    def _handler(self, service: Service) -> Any:
        async def handle(batch: Sequence[EventMessage]) -> None:
            work: list[tuple[EventMessage, Sequence[Action | PlannedRoutes]]] = [
                (message, service.handle(message.event, self.executor.view(message))) for message in batch
                if service.name not in message.handled]
            if not work:
                return
            if any(self.planner.wanted(actions) for _, actions in work):
                # Routes yield to video: let the writes already queued (the same events' grants, from the
                # services that got them first) commit before a plan takes CPU from them (measured: the
                # grant's p50 went from 3.8 to 6.3 ms with the plan computing beside it).
                await self.db.call_writer(lambda: None)
                now = self.clock()
                work = await self.run_blocking(lambda: [(m, self.planner.resolve(m.event, actions, now=now))
                                                        for m, actions in work])

            def apply_all(session: Session) -> list[Applied]:
                incident_repo.lock_incidents(session, [message.event.incident_id for message, _ in work])
                return [self.executor.apply(session, message, service, actions) for message, actions in work]

            for applied in await self.db.write_derived(apply_all):
                self._publish(applied)

        return handle

    def _publish(self, applied: Applied) -> None:
        for type_, data, audience in applied.stream:
            self.feed.publish(type_, data, audience=audience)
        if applied.notifications:
            self.notifier.wake()

    async def submit(self, event: Event, *, received_by: str, correlation_id: str) -> Any:
        return await self.intake.submit(event, received_by=received_by, correlation_id=correlation_id)

    async def authorize_video(self, request: VideoAuthRequest, *, audit_repeat_after_s: float = 0.0) -> Decision:
        """Allow or deny, audited. With audit_repeat_after_s, an allow that repeats one already audited for the
        same grant and camera within that time is not written again (stills polled every few seconds)."""
        if audit_repeat_after_s > 0:
            now = self.clock()
            decision = await self.db.read(lambda s: self.video.check(s, request, now=now))
            key = (decision.grant_id, request.path)
            last = self._audited_allows.get(key)
            if decision.allowed and last is not None and (now - last).total_seconds() < audit_repeat_after_s:
                return decision
        decision = await self.db.write(lambda s: self.video.decide(s, request, now=self.clock()))
        if decision.allowed and audit_repeat_after_s > 0:
            if len(self._audited_allows) > 10_000:
                self._audited_allows.clear()
            self._audited_allows[(decision.grant_id, request.path)] = self.clock()
        return decision

    async def save_cameras(self, cameras: list[Camera], *, actor: str, source: str) -> camera_repo.UpsertCounts:
        now = self.clock()

        def save(session: Any) -> camera_repo.UpsertCounts:
            counts = camera_repo.upsert_many(session, cameras, now=now)
            audit_repo.append(session, AuditEntry(AuditAction.CAMERAS_IMPORTED, actor, source,
                                                  {"created": counts.created, "updated": counts.updated,
                                                   "unchanged": counts.unchanged}, now))
            return counts

        counts = await self.db.write(save)
        for camera in cameras:
            self.index.upsert(camera)
        if len(cameras) > CAMERA_CHANGES_PER_MESSAGE:
            self.feed.publish("camera.changed", {"reload": True})
        else:
            for camera in cameras:
                self.feed.publish("camera.changed", {"camera": camera.model_dump(mode="json")})
        return counts

    async def delete_camera(self, camera_id: str, *, actor: str) -> bool:
        now = self.clock()

        def delete(session: Any) -> bool:
            deleted = camera_repo.delete(session, camera_id)
            if deleted:
                audit_repo.append(session, AuditEntry(AuditAction.CAMERA_CHANGED, actor, camera_id,
                                                      {"deleted": True}, now))
            return deleted

        deleted = await self.db.write(delete)
        if deleted:
            self.index.remove(camera_id)
            self.feed.publish("camera.changed", {"removed": camera_id})
        return deleted

    async def share(self, incident_id: str, *, agency: str, purpose: str, actor: str, correlation_id: str,
                    check: Callable[[Session], IncidentRow]) -> dict[str, Any]:
        """A grant of the incident's cameras for another agency (or the caller's own: operator monitoring)."""
        def with_cameras(session: Session) -> IncidentRow:
            row = check(session)
            if row.ended_at is None and not row.cameras:
                raise NothingToShare(row.id)
            return row

        row = await self.operate(incident_id, [GrantVideo(agency=agency, purpose=purpose)], actor=actor,
                                 correlation_id=correlation_id, check=with_cameras)

        def granted(session: Session) -> dict[str, Any]:
            grant = session.execute(select(GrantRow).where(GrantRow.incident_id == row.id,
                                                           GrantRow.agency == agency)).scalar_one()
            return grant_view(grant, token=self.signer.sign(incident_repo.to_grant(grant)))

        return await self.db.read(granted)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU-heavy or blocking work (file parsing) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def operate(self, incident_id: str, actions: list[Action], *, actor: str, correlation_id: str,
                      check: Callable[[Session], IncidentRow]) -> IncidentRow:
        """Run an operator's actions on an incident in one transaction; the stream hears of it after commit."""
        def run(session: Session) -> tuple[Applied, IncidentRow]:
            row = check(session)
            if row.ended_at is not None:
                raise IncidentEnded(row.id)
            return self.executor.apply_operator(session, row, actions, actor=actor,
                                                correlation_id=correlation_id), row

        applied, row = await self.db.write(run)
        self._publish(applied)
        return row

    async def watch_list_changed(self) -> None:
        """The watch list changed here: match against the new one at once, and tell the other API processes."""
        await self.run_blocking(self.plate_reads.reload)
        self.feed.publish("watchlist.changed", {}, audience=frozenset({self.settings.lpr.watch_agency}))

    async def emission_zones_changed(self) -> None:
        """Zones or vehicle lists changed here: enforce the new ones at once, and tell the other API processes."""
        await self.run_blocking(self.plate_reads.zones.reload)
        self.feed.publish("lez.changed", {})

    def basemap(self) -> Basemap | None:
        """The base map drawn from settings.basemap_path, read once (about half a second for a city centre)."""
        if self.settings.basemap_path is None:
            return None
        if self._basemap is None:
            self._basemap = load_basemap(self.settings.basemap_path)
        return self._basemap

    def routing(self) -> RoutingPlans | None:
        """Routing on settings.road_network_path (its network is read on first use), or None when not configured."""
        if self.settings.road_network_path is None:
            return None
        if self._routing is None:
            self._routing = RoutingPlans(self.settings.road_network_path, cache_dir=self.settings.data_dir / "roads",
                                         traffic=lambda: self.db.read_sync(traffic_repo.factors))
        return self._routing

    async def wait_idle(self) -> None:
        """Until every accepted event has been handled by its services (tests, benchmarks, shutdown)."""
        while True:
            await asyncio.sleep(0)
            await self.bus.drain()
            if self.intake.idle:
                await self.bus.drain()
                return
            await asyncio.sleep(0.001)
