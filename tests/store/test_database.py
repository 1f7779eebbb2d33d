"""The SQLite set-up: write connections leave WAL checkpoints to a background thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from citylink.domain.audit import AuditAction, AuditEntry
from citylink.store import audit_repo
from citylink.store.database import Database, WalCheckpointer, make_engine, migrate

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _append(session: Session, n: int) -> None:
    audit_repo.append_many(session, [AuditEntry(AuditAction.AGENCY_CHANGED, "test", f"s{i}", {"pad": "x" * 500}, NOW)
                                     for i in range(n)])


def test_a_commit_past_the_autocheckpoint_size_leaves_the_database_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "citylink.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_autocheckpoint=False)
    migrate(engine)
    checkpointer = WalCheckpointer(engine, interval_s=3600)  # run by hand below
    try:
        checkpointer.checkpoint()
        before = path.stat().st_size
        with Session(engine) as session, session.begin():
            _append(session, 10_000)  # about 1,600 pages of log: autocheckpoint would have copied them
        assert path.stat().st_size == before
        checkpointer.checkpoint()
        assert path.stat().st_size > before
    finally:
        checkpointer.stop()
        engine.dispose()


def _checkpointers() -> int:
    return sum(thread.name == "citylink-db-checkpoint" for thread in threading.enumerate())


def test_the_database_runs_its_checkpointer_and_stops_it_on_close(tmp_path: Path) -> None:
    running = _checkpointers()
    db = Database.open(f"sqlite:///{tmp_path / 'citylink.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        assert _checkpointers() == running + 1
    finally:
        db.close()
    assert _checkpointers() == running
