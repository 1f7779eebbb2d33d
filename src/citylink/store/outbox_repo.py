"""Events citylink raised itself, kept until intake has them (store/tables.py OutboxRow)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from citylink.domain.events import Event
from citylink.store.tables import OutboxRow


def add(session: Session, event: Event, *, received_by: str, now: datetime) -> None:
    session.add(OutboxRow(event=event.model_dump(mode="json"), received_by=received_by, created_at=now,
                          sent_at=None))


def unsent(session: Session, *, limit: int) -> list[tuple[int, Event, str]]:
    """The oldest events not yet handed to intake, in the order they were raised."""
    query = (select(OutboxRow.seq, OutboxRow.event, OutboxRow.received_by).where(OutboxRow.sent_at.is_(None))
             .order_by(OutboxRow.seq).limit(limit))
    return [(seq, Event.model_validate(event), received_by) for seq, event, received_by in session.execute(query)]


def mark_sent(session: Session, seqs: Sequence[int], *, now: datetime) -> None:
    if seqs:
        session.execute(update(OutboxRow).where(OutboxRow.seq.in_(list(seqs))).values(sent_at=now))


def purge_sent(session: Session, *, before: datetime) -> int:
    result = session.execute(delete(OutboxRow).where(OutboxRow.sent_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
