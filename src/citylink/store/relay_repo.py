"""Events stored but not yet handled by every service for their code: what the relay hands out again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.store.tables import EventRow


def undispatched(session: Session, *, received_before: datetime | None = None,
                 limit: int | None = None) -> list[tuple[int, dict[str, Any], str]]:
    """(seq, payload, effect) of undispatched events in arrival order, optionally only those older than a time."""
    query = select(EventRow.seq, EventRow.payload, EventRow.effect).where(EventRow.dispatched.is_(False))
    if received_before is not None:
        query = query.where(EventRow.received_at < received_before)
    query = query.order_by(EventRow.seq).limit(limit)
    return [(seq, payload, effect) for seq, payload, effect in session.execute(query)]
