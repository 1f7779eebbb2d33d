"""The audit log stays one chain when several processes append to it at once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from citylink.domain.audit import AuditAction, AuditEntry, verify_chain
from citylink.store import audit_repo
from citylink.store.database import make_engine, migrate

pytestmark = pytest.mark.services

ROUNDS = 25
PER_TRANSACTION = 3
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _append_in_step(engine: Engine, writer: str, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    """Each round, open a transaction, wait until the other writer has one open too, then append."""
    try:
        for round_ in range(ROUNDS):
            with Session(engine) as session, session.begin():
                session.execute(text("SELECT 1"))
                barrier.wait(timeout=30)
                audit_repo.append_many(session, [
                    AuditEntry(AuditAction.AGENCY_CHANGED, writer, f"{writer}-{round_}-{i}", {"i": i}, NOW)
                    for i in range(PER_TRANSACTION)])
    except BaseException as exc:  # reported by the test thread
        barrier.abort()
        errors.append(exc)


def test_two_writers_with_their_own_engines_append_one_chain(pg_url: str) -> None:
    setup = make_engine(pg_url)
    migrate(setup)
    setup.dispose()
    engines = [make_engine(pg_url) for _ in range(2)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []
    writers = [threading.Thread(target=_append_in_step, args=(engine, f"writer-{n}", barrier, errors))
               for n, engine in enumerate(engines)]
    try:
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in writers)
        assert errors == []
        with Session(engines[0]) as session:
            records = list(audit_repo.iter_records(session))
    finally:
        for engine in engines:
            engine.dispose()
    assert len(records) == len(engines) * ROUNDS * PER_TRANSACTION
    assert verify_chain(records) == []
    # Each transaction's records stay together: a writer never chained into the middle of another's.
    subjects = [r.subject for r in records]
    for start in range(0, len(subjects), PER_TRANSACTION):
        assert len({s.rsplit("-", 1)[0] for s in subjects[start:start + PER_TRANSACTION]}) == 1
