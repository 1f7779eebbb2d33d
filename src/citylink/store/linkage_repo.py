"""What the store keeps of the linkage protocol: received messages, the outbox to partners, partners' state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from citylink.domain.events import Event
from citylink.store.database import conflict_insert, take_lease
from citylink.store.tables import LinkMessageRow, LinkOutboxRow, LinkPartnerRow


def record(session: Session, values: dict[str, Any]) -> int:
    """Store a received message (a replay updates the original's record); its id."""
    replay_of = values.pop("id", None)
    if replay_of is not None:
        row = session.get(LinkMessageRow, replay_of)
        assert row is not None
        for name in ("status", "field", "reason", "event_id", "incident_id"):
            setattr(row, name, values[name])
        row.replayed_at = values["received_at"]
        return row.id
    result = session.execute(insert(LinkMessageRow).values(**values, replayed_at=None)
                             .returning(LinkMessageRow.id))
    return int(result.scalar_one())


def message(session: Session, message_id: int) -> LinkMessageRow | None:
    return session.get(LinkMessageRow, message_id)


def messages(session: Session, *, status: str | None, before: int | None, limit: int) -> list[LinkMessageRow]:
    query = select(LinkMessageRow).order_by(LinkMessageRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(LinkMessageRow.status == status)
    if before is not None:
        query = query.where(LinkMessageRow.id < before)
    return list(session.execute(query).scalars())


def enqueue(session: Session, partner: str, event: Event, *, trail: Sequence[str], now: datetime) -> None:
    session.add(LinkOutboxRow(partner=partner, event_id=event.event_id, event=event.model_dump(mode="json"),
                              trail=list(trail), state="pending", attempts=0, created_at=now, delivered_at=None,
                              last_error=""))


def claim_partner(session: Session, partner: str, *, owner: str, now: datetime,
                  until: datetime) -> LinkPartnerRow | None:
    """The partner's state, leased to this owner until the time, when it is due and nobody holds it."""
    session.execute(conflict_insert(session)(LinkPartnerRow).values(
        id=partner, session_key=None, lease_until=None, lease_owner=None, failures=0, next_attempt_at=None,
        last_error="", delivered_at=None).on_conflict_do_nothing(index_elements=["id"]))
    if not take_lease(session, LinkPartnerRow, partner, now=now, until=until):
        return None
    row = session.get(LinkPartnerRow, partner)
    assert row is not None
    row.lease_owner = owner
    return row


def pending(session: Session, partner: str, *, limit: int) -> list[LinkOutboxRow]:
    return list(session.execute(select(LinkOutboxRow).where(LinkOutboxRow.partner == partner,
                                                            LinkOutboxRow.state == "pending")
                                .order_by(LinkOutboxRow.seq).limit(limit)).scalars())


def outbox_counts(session: Session) -> dict[tuple[str, str], int]:
    query = select(LinkOutboxRow.partner, LinkOutboxRow.state, func.count()).group_by(LinkOutboxRow.partner,
                                                                                      LinkOutboxRow.state)
    return {(partner, state): int(n) for partner, state, n in session.execute(query)}


def partners(session: Session) -> dict[str, LinkPartnerRow]:
    return {row.id: row for row in session.execute(select(LinkPartnerRow)).scalars()}
