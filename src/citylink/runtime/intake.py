"""Intake: validated events become stored events and incidents, many per transaction.

Requests wait on a future while a single flusher writes everything queued so far in one transaction:
each response still goes out only after its event is durably committed, but the disk sync is shared. In a
process that runs the services, they act on the batch in that same transaction where they can
(runtime/inline_services.py): a 112 call's grant is committed by the time the call is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from citylink.bus.port import Bus, EventMessage, Feed
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.domain.events import Event
from citylink.domain.incidents import LifecycleError, transition
from citylink.runtime.clock import Clock
from citylink.runtime.inline_services import Handled, InlineServices
from citylink.runtime.views import incident_summary
from citylink.services.registry import Registry
from citylink.store import audit_repo, incident_repo
from citylink.store.database import Database
from citylink.store.tables import IncidentRow

log = logging.getLogger(__name__)

MAX_BATCH = 512


@dataclass(frozen=True, slots=True)
class Accepted:
    incident_id: str
    event_id: str
    created: bool  # False: a duplicate of an event already stored


class Submit(Protocol):
    """The platform's intake: resolves once the event is durably stored (Platform.submit)."""

    def __call__(self, event: Event, *, received_by: str, correlation_id: str) -> Awaitable[Accepted]: ...


class IntakeRejected(Exception):
    """The event is well-formed but the incident cannot take it (e.g. a status going backwards)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


RecordOutcome = Callable[[Session, "Accepted | IntakeRejected"], None]


class SubmitRecorded(Protocol):
    """Intake for a caller that keeps its own record of what became of the event (the linkage protocol's
    received messages): ``record`` runs in the transaction that stores the event, so record and event are
    committed together, in one commit per batch."""

    def __call__(self, event: Event, *, received_by: str, correlation_id: str,
                 record: RecordOutcome | None = None) -> Awaitable[Accepted]: ...


@dataclass(slots=True)
class _Pending:
    event: Event
    received_by: str
    correlation_id: str
    future: asyncio.Future[Accepted]
    record: RecordOutcome | None = None


StreamOut = tuple[str, dict[str, Any], frozenset[str]]


@dataclass(slots=True)
class _Outcome:
    result: Accepted | IntakeRejected
    stream: list[StreamOut] = field(default_factory=list)
    dispatch: bool = False  # services still have to act on it: it goes to the bus after commit
    effect: str = ""
    handled: Handled | None = None  # what services did with it in the same transaction


@dataclass(slots=True)
class _Writes:
    """What a batch writes, gathered in order while its events are taken in."""

    opened: dict[str, IncidentRow] = field(default_factory=dict)
    updated: dict[str, IncidentRow] = field(default_factory=dict)  # existing incidents, not those opened above
    events: list[dict[str, Any]] = field(default_factory=list)
    revoked: list[tuple[str, str]] = field(default_factory=list)  # (grant id, reason)
    audit: list[AuditEntry] = field(default_factory=list)

    def stored_as_dispatched(self, event_ids: set[str]) -> None:
        """These events need no redelivery: every service for their code acts on them in this transaction."""
        for values in self.events:
            if values["id"] in event_ids:
                values["dispatched"] = True

    def save(self, session: Session, *, now: datetime) -> None:
        """Everything but the audit entries, which go last (after the services' run here, with theirs)."""
        incident_repo.insert_incidents(session, list(self.opened.values()))
        incident_repo.insert_events(session, self.events)
        incident_repo.save_updated(session, list(self.updated.values()), incident_repo.EVENT_COLUMNS)
        incident_repo.revoke_grants(session, self.revoked, now=now)


class Intake:
    def __init__(self, db: Database, *, bus: Bus, hub: Feed, registry: Registry, clock: Clock) -> None:
        self._db = db
        self._inline: InlineServices | None = None
        self._bus = bus
        self._hub = hub
        self._registry = registry
        self._clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._flusher: asyncio.Task[None] | None = None
        self._in_flight = 0

    @property
    def idle(self) -> bool:
        return self._queue.empty() and self._in_flight == 0

    def run_services(self, inline: InlineServices) -> None:
        """From now on the services act on each batch in the transaction that stores it, where they can."""
        self._inline = inline

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="intake-flusher")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None

    async def submit(self, event: Event, *, received_by: str, correlation_id: str,
                     record: RecordOutcome | None = None) -> Accepted:
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(event, received_by, correlation_id, future, record))
        return await future

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._in_flight = len(batch)
            try:
                await self._flush(batch)
            finally:
                self._in_flight = 0

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            outcomes = await self._db.write(lambda s: self._write(s, batch))
        except Exception as exc:
            log.exception("intake batch of %d failed; nothing of it was stored", len(batch))
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            await self._after_commit(pending, outcome)

    async def _after_commit(self, pending: _Pending, outcome: _Outcome) -> None:
        for type_, data, audience in outcome.stream:
            self._hub.publish(type_, data, audience=audience)
        handled = outcome.handled
        if handled is not None and self._inline is not None:
            for applied in handled.applied:
                self._inline.publish(applied)
        if outcome.dispatch:
            await self._bus.publish(EventMessage(pending.event, pending.correlation_id, outcome.effect,
                                                 frozenset(handled.services) if handled is not None else frozenset()))
        if pending.future.done():  # the caller went away; the event is stored all the same
            return
        if isinstance(outcome.result, IntakeRejected):
            pending.future.set_exception(outcome.result)
        else:
            pending.future.set_result(outcome.result)

    def _write(self, session: Session, batch: list[_Pending]) -> list[_Outcome]:
        now = self._clock()
        # Everything the batch needs to look up is read up front, so the loop below issues no statement; what
        # it writes goes to the database at the end, one executemany per kind of row.
        seen = incident_repo.existing_event_ids(session, [p.event.event_id for p in batch])
        incident_repo.lock_incidents(session, [p.event.incident_id for p in batch])
        incidents = incident_repo.load_incidents(session, [p.event.incident_id for p in batch])
        grants = incident_repo.live_grants(session, [p.event.incident_id for p in batch
                                                     if p.event.status.ends_incident])
        writes = _Writes()
        outcomes = [self._write_one(pending, now=now, seen=seen, incidents=incidents, grants=grants, writes=writes)
                    for pending in batch]
        inline = self._inline
        fresh = [(pending, outcome) for pending, outcome in zip(batch, outcomes, strict=True) if outcome.dispatch]
        plan = (inline.plan([EventMessage(p.event, p.correlation_id, o.effect) for p, o in fresh])
                if inline is not None and fresh else None)
        if plan is not None:
            writes.stored_as_dispatched(plan.dispatched)
        writes.save(session, now=now)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.record is not None:
                pending.record(session, outcome.result)
        if inline is not None and plan is not None:
            handled = inline.apply(session, plan, incidents=incidents, opened=writes.opened.keys(), audit=writes.audit)
            for pending, outcome in fresh:
                outcome.handled = handled.get(pending.event.event_id)
                # Every service for its code acted here: nothing is left for the bus.
                outcome.dispatch = not (outcome.handled and pending.event.event_id in plan.dispatched)
        audit_repo.append_many(session, writes.audit)
        return outcomes

    def _write_one(self, pending: _Pending, *, now: datetime, seen: set[str], incidents: dict[str, IncidentRow],
                   grants: dict[str, list[incident_repo.LiveGrant]], writes: _Writes) -> _Outcome:
        event = pending.event
        ids = Accepted(event.incident_id, event.event_id, created=False)
        if event.event_id in seen:
            return _Outcome(ids)
        row = incidents.get(event.incident_id)
        try:
            step = transition(incident_repo.current_status(row), event.status)
        except LifecycleError as exc:
            return _Outcome(IntakeRejected("status", str(exc)))
        actor, correlation_id = pending.received_by, pending.correlation_id
        outcome = _Outcome(Accepted(event.incident_id, event.event_id, created=True))
        if row is None:
            row = incident_repo.new_incident(event, now=now, agencies=[actor])
            incidents[event.incident_id] = row
            writes.opened[row.id] = row
            effect = "opened"
        else:
            previous = row.status
            moved = incident_repo.apply_update(row, event, now=now)
            if row.id not in writes.opened:
                writes.updated[row.id] = row
            effect = "ended" if step.ends else "moved" if moved else "updated"
            writes.audit.append(AuditEntry(AuditAction.INCIDENT_STATUS, actor, row.id,
                                           {"from": previous, "to": event.status.value}, now, correlation_id))
        seen.add(event.event_id)
        handled = bool(self._registry.for_code(event.code))
        writes.events.append(incident_repo.event_values(event, incident_id=row.id, now=now, received_by=actor,
                                                        effect=effect, dispatched=not handled))
        writes.audit.append(AuditEntry(
            AuditAction.EVENT_RECEIVED, actor, row.id,
            {"event_id": event.event_id, "code": event.code, "status": event.status.value,
             "occurrence": event.occurrence, "sender": event.sender.city}, now, correlation_id))
        audience = frozenset(row.agencies)
        if effect == "opened":
            writes.audit.append(AuditEntry(AuditAction.INCIDENT_OPENED, actor, row.id,
                                           {"code": event.code, "grade": event.grade.value}, now, correlation_id))
            outcome.stream.append(("incident.opened", incident_summary(row), audience))
        elif step.ends:
            outcome.stream += self._revoke_grants(grants.pop(row.id, []), row, actor=actor, now=now,
                                                  correlation_id=correlation_id, writes=writes)
            outcome.stream.append(("incident.closed", incident_summary(row), audience))
        else:
            outcome.stream.append(("incident.updated", incident_summary(row), audience))
        outcome.dispatch = handled
        outcome.effect = effect
        return outcome

    @staticmethod
    def _revoke_grants(grants: list[incident_repo.LiveGrant], row: IncidentRow, *, actor: str, now: datetime,
                       correlation_id: str, writes: _Writes) -> list[StreamOut]:
        messages: list[StreamOut] = []
        reason = f"incident ended (status {row.status})"
        for grant in grants:
            writes.revoked.append((grant.id, reason))
            writes.audit.append(AuditEntry(AuditAction.GRANT_REVOKED, actor, grant.id,
                                           {"incident": row.id, "agency": grant.agency, "reason": reason},
                                           now, correlation_id))
            messages.append(("grant.revoked", {"grant_id": grant.id, "incident_id": row.id, "agency": grant.agency,
                                               "reason": reason}, frozenset(row.agencies)))
        return messages
