"""The hash chain on its own: any change to a record, its place or its neighbours shows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from citylink.domain.audit import GENESIS_HASH, AuditAction, AuditEntry, ChainedRecord, chain, verify_chain


def _chain(n: int) -> list[ChainedRecord]:
    records: list[ChainedRecord] = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        entry = AuditEntry(AuditAction.VIDEO_ALLOWED, "police", f"camera/c{i}", {"grant": f"g{i}"},
                           datetime(2026, 11, 26, 9, i, tzinfo=UTC))
        record = chain(entry, seq=i, prev_hash=prev)
        records.append(record)
        prev = record.hash
    return records


def test_intact_chain_has_no_problems() -> None:
    assert verify_chain(_chain(5)) == []


def test_altered_detail_is_found_at_its_record() -> None:
    records = _chain(5)
    records[2] = dataclasses.replace(records[2], detail={"grant": "forged"})
    problems = verify_chain(records)
    assert [(p.seq, p.reason) for p in problems] == [(3, "content does not match its hash: record altered")]


def test_rehashed_forgery_breaks_the_next_link() -> None:
    records = _chain(5)
    forged = chain(AuditEntry(AuditAction.VIDEO_ALLOWED, "police", "camera/c3", {"grant": "forged"},
                              records[2].at), seq=3, prev_hash=records[1].hash)
    records[2] = forged
    problems = verify_chain(records)
    assert [(p.seq, p.reason) for p in problems] == [(4, "link to the previous record is broken")]


def test_removed_and_reordered_records_are_named() -> None:
    records = _chain(5)
    assert "missing" in verify_chain(records[:2] + records[3:])[0].reason
    swapped = [records[0], records[2], records[1], records[3], records[4]]
    problems = verify_chain(swapped)
    assert any(p.seq == 2 and p.position == 3 and "out of order" in p.reason for p in problems)
