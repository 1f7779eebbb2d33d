"""Services acting on events in the transaction that stores them, so a 112 call's grant commits with the call.

Through the bus an event costs two transactions on the one writer (intake's, then the service's, which reads
the incident, its grants and the audit head back) and a trip through the event loop in between. Here the
services' actions run right after intake's rows, on intake's own incident rows, and commit with them: one
commit per batch for both. What cannot be done inside a write transaction stays on the bus: route plans
(milliseconds of CPU each, worked out off the writer), and everything when an action fails here (the events
still commit; the bus retries them as it always has). See docs/decisions.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from citylink.bus.port import EventMessage
from citylink.domain.actions import Action
from citylink.domain.audit import AuditEntry
from citylink.runtime.executor import Applied, Executor
from citylink.services.base import Service
from citylink.services.registry import Registry
from citylink.store import incident_repo
from citylink.store.tables import IncidentRow

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Handled:
    """What the services did with one event here: their names (the bus skips them) and what to publish."""

    services: set[str] = field(default_factory=set)
    applied: list[Applied] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    work: list[tuple[EventMessage, Service, Sequence[Action]]] = field(default_factory=list)
    dispatched: set[str] = field(default_factory=set)  # events every service for their code acts on here


class InlineServices:
    def __init__(self, registry: Registry, executor: Executor, *,
                 on_writer: Callable[[Sequence[Action]], Sequence[Action] | None],
                 publish: Callable[[Applied], None]) -> None:
        self._registry = registry
        self._executor = executor
        self._on_writer = on_writer  # None for actions that need work outside the transaction (route plans)
        self.publish = publish  # after commit: what the services did, to the live feed

    def plan(self, messages: Sequence[EventMessage]) -> Plan:
        """What the services want done with the batch's new events, decided before intake writes them, so that an
        event every service acts on here is stored as dispatched. A service that raises leaves the batch to the
        bus."""
        plan = Plan()
        try:
            for message in messages:
                view = self._executor.view(message)
                services = self._registry.for_code(message.event.code)
                wanted = [(message, service, self._on_writer(service.handle(message.event, view)))
                          for service in services]
                plan.work += [(m, service, actions) for m, service, actions in wanted if actions is not None]
                if all(actions is not None for _, _, actions in wanted):
                    plan.dispatched.add(message.event_id)
        except Exception:
            log.exception("a service failed on a batch of %d event(s) in the intake transaction; the events are "
                          "stored and go to the services over the bus", len(messages))
            return Plan()
        return plan

    def apply(self, session: Session, plan: Plan, *, incidents: Mapping[str, IncidentRow], opened: Collection[str],
              audit: list[AuditEntry]) -> dict[str, Handled]:
        """Run in intake's transaction after its rows are written; by event id, what was handled here. The
        services' audit entries are added to audit, for the caller to append."""
        if not plan.work:
            return {}
        try:
            applied = self._executor.apply_fresh(session, plan.work, incidents=incidents, opened=opened, audit=audit)
        except Exception:
            log.exception("services failed on %d event(s) in the intake transaction; the events are stored and "
                          "go to the services over the bus", len({m.event_id for m, _, _ in plan.work}))
            incident_repo.mark_dispatched(session, sorted(plan.dispatched), dispatched=False)
            return {}
        handled: dict[str, Handled] = {}
        for (message, service, _), out in zip(plan.work, applied, strict=True):
            entry = handled.setdefault(message.event_id, Handled())
            entry.services.add(service.name)
            entry.applied.append(out)
        return handled
