"""The audit log in the store: append inside the caller's transaction, read back for verification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citylink.domain.audit import GENESIS_HASH, AuditEntry, ChainedRecord, chain
from citylink.store.tables import AuditRow

_HEAD = "citylink.audit_head"


def load_head(session: Session) -> tuple[int, str]:
    """The newest record's (seq, hash), read once per transaction and then carried along in it."""
    head: tuple[int, str] | None = session.info.get(_HEAD)
    if head is None:
        row = session.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).first()
        head = (row[0], row[1]) if row else (0, GENESIS_HASH)
        session.info[_HEAD] = head
    return head


def append(session: Session, entry: AuditEntry) -> ChainedRecord:
    """Chain entry after the newest record."""
    head = load_head(session)
    record = chain(entry, seq=head[0] + 1, prev_hash=head[1])
    session.add(AuditRow(seq=record.seq, at=record.at.isoformat(), action=record.action, actor=record.actor,
                         subject=record.subject, detail=record.detail, correlation_id=record.correlation_id,
                         prev_hash=record.prev_hash, hash=record.hash))
    session.info[_HEAD] = (record.seq, record.hash)
    return record


def forget_head(session: Session) -> None:
    """After a rollback the carried head is wrong; drop it so the next append reads it again."""
    session.info.pop(_HEAD, None)


def _to_record(row: AuditRow) -> ChainedRecord:
    return ChainedRecord(seq=row.seq, at=datetime.fromisoformat(row.at), action=row.action, actor=row.actor,
                         subject=row.subject, detail=dict(row.detail), correlation_id=row.correlation_id,
                         prev_hash=row.prev_hash, hash=row.hash)


def iter_records(session: Session, *, batch: int = 5000) -> Iterator[ChainedRecord]:
    """Every record in sequence order; a moved, missing or altered record breaks the chain there."""
    query = select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=batch)
    for row in session.execute(query).scalars():
        yield _to_record(row)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditRow)) or 0)


def page(session: Session, *, subject: str | None, action: str | None, after_seq: int,
         limit: int) -> list[ChainedRecord]:
    query = select(AuditRow).where(AuditRow.seq > after_seq).order_by(AuditRow.seq).limit(limit)
    if subject:
        query = query.where(AuditRow.subject == subject)
    if action:
        query = query.where(AuditRow.action == action)
    return [_to_record(r) for r in session.execute(query).scalars()]
