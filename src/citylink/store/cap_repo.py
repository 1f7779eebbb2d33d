"""What CAP publishing reads from the store: the events of published codes, and each receiver's progress."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from citylink.store.database import conflict_insert
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


def claim_receiver(session: Session, url: str, *, now: datetime, until: datetime,
                   start_after: int) -> CapReceiverRow | None:
    """The receiver's progress, leased until the time, when it is due and no other worker holds it. A new
    receiver starts after start_after: it gets what is published from now on, not the whole history."""
    session.execute(conflict_insert(session)(CapReceiverRow).values(
        url=url, last_seq=start_after, failures=0, next_attempt_at=None, lease_until=None, last_error="",
        delivered_at=None).on_conflict_do_nothing(index_elements=["url"]))
    claimed = session.execute(
        update(CapReceiverRow).where(CapReceiverRow.url == url,
                                     or_(CapReceiverRow.lease_until.is_(None), CapReceiverRow.lease_until < now),
                                     or_(CapReceiverRow.next_attempt_at.is_(None),
                                         CapReceiverRow.next_attempt_at <= now))
        .values(lease_until=until))
    if not getattr(claimed, "rowcount", 0):
        return None
    return session.get(CapReceiverRow, url)


def last_seq(session: Session) -> int:
    return int(session.execute(select(EventRow.seq).order_by(EventRow.seq.desc()).limit(1)).scalar() or 0)
