"""Intake batches: several events of one incident in one transaction, written with Core statements."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from citylink.api.schemas import EventIn
from citylink.domain.audit import verify_chain
from citylink.domain.events import Event
from citylink.runtime.intake import Accepted, IntakeRejected
from citylink.store import audit_repo
from citylink.store.tables import EventRow, IncidentRow
from tests.conftest import SPOT, Harness, event_body, offset

MOVED = offset(*SPOT, east_m=80)


def _event(status: str, time: str, *, at: tuple[float, float] = SPOT, occurrence: str = "B1") -> Event:
    return EventIn.model_validate(event_body("EBSCP110", occurrence=occurrence, status=status, time=time,
                                             at=at, content=f"status {status}")).to_event()


async def _submit_together(harness: Harness, events: list[Event]) -> list[Accepted | BaseException]:
    """Queued before the flusher runs, so they are written in one batch."""
    return await asyncio.gather(*(harness.platform.submit(e, received_by="centre", correlation_id=f"c{i}")
                                  for i, e in enumerate(events)), return_exceptions=True)


async def test_one_batch_opens_moves_and_ends_an_incident(harness: Harness) -> None:
    opened, moved, ended = (_event("10", "2026-11-26T11:00:00+02:00"),
                            _event("40", "2026-11-26T11:01:00+02:00", at=MOVED),
                            _event("91", "2026-11-26T11:02:00+02:00", at=MOVED))
    late = _event("40", "2026-11-26T11:03:00+02:00")
    results = await _submit_together(harness, [opened, moved, ended, late, opened])
    assert [r.created if isinstance(r, Accepted) else type(r) for r in results] == [
        True, True, True, IntakeRejected, False]

    db = harness.platform.db
    events = db.read_sync(lambda s: [(r.status, r.effect) for r in
                                     s.execute(select(EventRow).order_by(EventRow.seq)).scalars()])
    incident = db.read_sync(lambda s: s.get(IncidentRow, opened.incident_id))
    assert incident is not None
    assert events == [("10", "opened"), ("40", "moved"), ("91", "ended")]
    assert (incident.status, incident.lon, incident.lat, incident.content) == ("91", *MOVED, "status 91")
    assert incident.ended_at is not None
    assert db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s))) == []


async def test_ending_an_incident_in_a_later_batch_revokes_its_grants(harness: Harness) -> None:
    robbery = EventIn.model_validate(event_body(occurrence="R1")).to_event()
    await harness.platform.submit(robbery, received_by="police", correlation_id="r1")
    await harness.settle()
    other = _event("10", "2026-11-26T11:00:00+02:00", occurrence="B2")
    end = EventIn.model_validate(event_body(occurrence="R1", status="91",
                                            time="2026-11-26T11:30:00+02:00")).to_event()
    await _submit_together(harness, [other, end])
    incident = await harness.incident(robbery.incident_id)
    assert incident["status"] == "91"
    assert [(g["agency"], g["revoked"]) for g in incident["grants"]] == [("police", True)]
    assert harness.platform.db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s))) == []
