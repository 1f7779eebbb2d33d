"""The audit log in the store: append inside the caller's transaction, read back for verification."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from citylink.domain.audit import GENESIS_HASH, AuditEntry, ChainedRecord, chain
from citylink.store.database import table_of
from citylink.store.direct import Direct, DirectQuery
from citylink.store.tables import AuditRow

_HEAD = "citylink.audit_head"
_AUDIT = table_of(AuditRow)
# Prebuilt, and sent to the transaction's connection rather than through Session.execute (see incident_repo).
_INSERT = Direct(insert(_AUDIT))
_NEWEST = DirectQuery(select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1))
# Every writer of the chain takes this PostgreSQL advisory lock (the ASCII of "citylink" as a bigint) before it
# reads the head, and holds it to the end of its transaction, so processes appending at once chain one after
# the other instead of off the same head. SQLite needs none: it has one writer at a time.
_CHAIN_LOCK_KEY = 0x63_69_74_79_6C_69_6E_6B
_TAKE_CHAIN_LOCK = select(func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY))


def load_head(session: Session) -> tuple[int, str]:
    """The newest record's (seq, hash), read once per transaction and then carried along in it.

    It is carried in session.info, and moved on only once the records are inserted: a session is one
    transaction (Database opens one per call), so a rolled-back head is never used again."""
    head: tuple[int, str] | None = session.info.get(_HEAD)
    if head is None:
        if session.get_bind().dialect.name == "postgresql":
            session.connection().execute(_TAKE_CHAIN_LOCK)
        rows = _NEWEST.rows(session, {})
        head = (rows[0][0], rows[0][1]) if rows else (0, GENESIS_HASH)
        session.info[_HEAD] = head
    return head


def append_many(session: Session, entries: Sequence[AuditEntry]) -> list[ChainedRecord]:
    """Chain entries, in order, after the newest record, and insert them in one statement."""
    if not entries:
        return []
    seq, prev_hash = load_head(session)
    records = []
    for entry in entries:
        seq += 1
        record = chain(entry, seq=seq, prev_hash=prev_hash)
        prev_hash = record.hash
        records.append(record)
    _INSERT.executemany(session, [_to_row(r) for r in records])
    session.info[_HEAD] = (seq, prev_hash)
    return records


def append(session: Session, entry: AuditEntry) -> ChainedRecord:
    """Chain entry after the newest record."""
    return append_many(session, [entry])[0]


def _to_row(record: ChainedRecord) -> dict[str, Any]:
    return {"seq": record.seq, "at": record.at.isoformat(), "action": record.action, "actor": record.actor,
            "subject": record.subject, "detail": record.detail, "correlation_id": record.correlation_id,
            "prev_hash": record.prev_hash, "hash": record.hash}


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
