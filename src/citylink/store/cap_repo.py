"""What CAP publishing reads from the store: the events of published codes, and each receiver's progress."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citylink.store.database import conflict_insert, take_lease
from citylink.store.tables import CapReceiverRow, EventRow


def latest(session: Session, codes: Collection[str], *, limit: int) -> list[EventRow]:
    query = select(EventRow).where(EventRow.code.in_(list(codes))).order_by(EventRow.seq.desc()).limit(limit)
    return list(session.execute(query).scalars())


def after(session: Session, codes: Collection[str], *, seq: int, limit: int) -> list[EventRow]:
    query = (select(EventRow).where(EventRow.code.in_(list(codes)), EventRow.seq > seq)
             .order_by(EventRow.seq).limit(limit))
    return list(session.execute(query).scalars())


def by_id(session: Session, event_id: str) -> EventRow | None:
    return session.execute(select(EventRow).where(EventRow.id == event_id)).scalar_one_or_none()


def earlier(session: Session, row: EventRow) -> list[EventRow]:
    """The incident's events before this one: the messages a CAP Update or Cancel references."""
    query = (select(EventRow).where(EventRow.incident_id == row.incident_id, EventRow.seq < row.seq)
             .order_by(EventRow.seq))
    return list(session.execute(query).scalars())


def progress(session: Session, url: str) -> CapReceiverRow | None:
    return session.get(CapReceiverRow, url)


def claim_receiver(session: Session, url: str, *, now: datetime, until: datetime) -> CapReceiverRow | None:
    """The receiver's progress, leased until the time, when it is due and no other worker holds it. A new
    receiver starts after the newest event: it gets what is published from now on, not the whole history."""
    newest = select(func.coalesce(func.max(EventRow.seq), 0)).scalar_subquery()
    session.execute(conflict_insert(session)(CapReceiverRow).values(
        url=url, last_seq=newest, failures=0, next_attempt_at=None, lease_until=None, last_error="",
        delivered_at=None).on_conflict_do_nothing(index_elements=["url"]))
    if not take_lease(session, CapReceiverRow, url, now=now, until=until):
        return None
    return session.get(CapReceiverRow, url)
