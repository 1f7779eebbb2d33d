"""Audit records and the hash chain that makes tampering visible."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import orjson

GENESIS_HASH = "0" * 64


class AuditAction(StrEnum):
    EVENT_RECEIVED = "event.received"
    EVENT_REJECTED = "event.rejected"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_STATUS = "incident.status"
    CAMERAS_SELECTED = "cameras.selected"
    GRANT_ISSUED = "grant.issued"
    GRANT_REVOKED = "grant.revoked"
    GRANT_REFUSED = "grant.refused"
    VIDEO_ALLOWED = "video.allowed"
    VIDEO_DENIED = "video.denied"
    NOTIFICATION = "notification.created"
    CAMERA_CHANGED = "camera.changed"
    CAMERAS_IMPORTED = "cameras.imported"
    AGENCY_CHANGED = "agency.changed"
    AUTH_DENIED = "auth.denied"
    VIEW_OPENED = "view.opened"
    UNIT_CHANGED = "unit.changed"
    TRAFFIC_CHANGED = "traffic.changed"
    WATCHLIST_CHANGED = "watchlist.changed"
    PLATE_SEARCH = "plate.search"
    LEZ_CHANGED = "lez.changed"
    SENSOR_CHANGED = "sensor.changed"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened, before it is placed in the chain."""

    action: AuditAction
    actor: str
    subject: str
    detail: dict[str, object]
    at: datetime
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class ChainedRecord:
    seq: int
    at: datetime
    action: str
    actor: str
    subject: str
    detail: dict[str, object]
    correlation_id: str
    prev_hash: str
    hash: str


def record_hash(*, seq: int, at: datetime, action: str, actor: str, subject: str, detail: dict[str, object],
                correlation_id: str, prev_hash: str) -> str:
    payload = orjson.dumps(
        [seq, at.isoformat(), action, actor, subject, detail, correlation_id, prev_hash],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


def chain(entry: AuditEntry, *, seq: int, prev_hash: str) -> ChainedRecord:
    digest = record_hash(seq=seq, at=entry.at, action=entry.action.value, actor=entry.actor, subject=entry.subject,
                         detail=entry.detail, correlation_id=entry.correlation_id, prev_hash=prev_hash)
    return ChainedRecord(seq=seq, at=entry.at, action=entry.action.value, actor=entry.actor, subject=entry.subject,
                         detail=entry.detail, correlation_id=entry.correlation_id, prev_hash=prev_hash, hash=digest)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    position: int  # 1-based position in the stored order
    reason: str


def verify_chain(records: Iterable[ChainedRecord]) -> list[ChainProblem]:
    """Walk the chain in stored order; report where it is altered, has a gap, or was reordered."""
    problems: list[ChainProblem] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for position, rec in enumerate(records, start=1):
        if rec.seq != expected_seq:
            kind = "missing" if rec.seq > expected_seq else "out of order"
            problems.append(ChainProblem(rec.seq, position,
                                         f"expected record {expected_seq}, found {rec.seq}: records {kind}"))
        if rec.prev_hash != prev_hash:
            problems.append(ChainProblem(rec.seq, position, "link to the previous record is broken"))
        recomputed = record_hash(seq=rec.seq, at=rec.at, action=rec.action, actor=rec.actor, subject=rec.subject,
                                 detail=rec.detail, correlation_id=rec.correlation_id, prev_hash=rec.prev_hash)
        if recomputed != rec.hash:
            problems.append(ChainProblem(rec.seq, position, "content does not match its hash: record altered"))
        prev_hash = rec.hash
        expected_seq = rec.seq + 1
    return problems
