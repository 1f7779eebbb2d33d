"""Services acting in the transaction that stores the event: the grant is there when the call is acknowledged,
and a service failing there loses nothing (the event is stored and the bus hands it to the service again)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from citylink.api.schemas import EventIn
from citylink.bus.port import EventMessage
from citylink.domain.audit import AuditAction, verify_chain
from citylink.runtime.platform import Platform
from citylink.store import audit_repo, incident_repo
from citylink.store.tables import AuditRow, EventRow, GrantRow, ProcessedRow
from tests.conftest import Harness, event_body


def _count(platform: Platform, query: Any) -> int:
    return int(platform.db.read_sync(lambda s: s.scalar(query)) or 0)


def _grants(platform: Platform) -> int:
    return _count(platform, select(func.count()).select_from(GrantRow))


def _grant_audits(platform: Platform) -> int:
    return _count(platform, select(func.count()).select_from(AuditRow)
                  .where(AuditRow.action == AuditAction.GRANT_ISSUED.value))


async def test_a_112_report_is_acknowledged_with_its_cameras_and_grant_already_committed(harness: Harness) -> None:
    response = await harness.post_event("police", event_body(occurrence="INLINE1"))
    assert response.status_code == 201, response.text
    platform = harness.platform
    incident_id = response.json()["incident_id"]
    # No settling: the selection and the police grant committed with the event itself.
    incident = await harness.incident(incident_id)
    assert [c["id"] for c in incident["cameras"]][:1] == ["sees"]
    assert [g["agency"] for g in incident["grants"]] == ["police"]
    # Both services for the code (video, and the cordon plan, which has no road network here) handled it there,
    # so it is not waiting for redelivery.
    assert platform.db.read_sync(lambda s: s.scalar(select(EventRow.dispatched))) is True
    assert _count(platform, select(func.count()).select_from(ProcessedRow)) == 2


async def test_a_service_failing_in_the_intake_transaction_leaves_the_event_to_the_bus(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = harness.platform
    mark_processed = incident_repo.mark_processed
    calls: list[Any] = []
    bus_may_go_on = threading.Event()

    def fail_first(session: Any, marks: Any) -> None:
        calls.append(marks)
        if len(calls) == 1:  # the grant and the selection are already written inside the savepoint by now
            raise RuntimeError("disk hiccup")
        bus_may_go_on.wait(timeout=30)  # the bus's own attempt: held until the state after the 201 is checked
        mark_processed(session, marks)

    monkeypatch.setattr(incident_repo, "mark_processed", fail_first)
    response = await harness.post_event("police", event_body(occurrence="INLINE2"))
    assert response.status_code == 201, response.text
    incident_id = response.json()["incident_id"]
    assert _grants(platform) == 0  # what the failed attempt wrote was rolled back with its savepoint
    assert platform.db.read_sync(lambda s: s.scalar(select(EventRow.dispatched))) is False  # waiting for the bus
    bus_may_go_on.set()
    await harness.settle()
    incident = await harness.incident(incident_id)
    assert [g["agency"] for g in incident["grants"]] == ["police"]
    assert _grant_audits(platform) == 1
    assert platform.db.read_sync(lambda s: s.scalar(select(EventRow.dispatched))) is True
    assert platform.db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s))) == []


def test_the_services_that_already_acted_travel_with_the_message() -> None:
    event = EventIn.model_validate(event_body(occurrence="INLINE3")).to_event()
    message = EventMessage(event, "c1", "opened", frozenset({"emergency_video_112"}))
    assert EventMessage.from_bytes(message.to_bytes()) == message
