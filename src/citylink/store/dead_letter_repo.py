"""Dead letters: device messages that could not be taken in, with the reason; appended in the caller's
transaction, listed newest first for admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.store.tables import DeadLetterRow

MAX_PAYLOAD_CHARS = 4096
MAX_TOPIC_CHARS = 1024
MAX_REASON_CHARS = 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str
    received_at: datetime


def add(session: Session, letter: DeadLetter) -> None:
    # Truncated so that a device flooding megabytes of garbage cannot fill the store; the size is kept.
    text = letter.payload[:MAX_PAYLOAD_CHARS].decode("utf-8", errors="replace")
    session.add(DeadLetterRow(received_at=letter.received_at, topic=letter.topic[:MAX_TOPIC_CHARS],
                              payload=text, payload_bytes=len(letter.payload),
                              reason=letter.reason[:MAX_REASON_CHARS]))


def page(session: Session, *, before_id: int | None, limit: int) -> list[DeadLetterRow]:
    query = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(DeadLetterRow.id < before_id)
    return list(session.execute(query).scalars())
