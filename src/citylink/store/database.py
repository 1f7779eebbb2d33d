"""The database handle: engine set-up, migrations, and the threads that keep blocking I/O off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, func, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECKPOINT_INTERVAL_S = 1.0


def table_of(model: type[DeclarativeBase]) -> Table:
    """The Core table behind a mapped class, for hot-path statements that skip the ORM's unit of work."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def conflict_insert(session: Session) -> Any:
    """The session's database's own insert(), which has on_conflict_do_nothing (PostgreSQL and SQLite alike)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def take_lease(session: Session, model: Any, key: str, *, now: datetime, until: datetime) -> bool:
    """Lease a delivery row (a linkage partner's, a CAP receiver's: their key, lease_until, next_attempt_at) to
    this worker until the time, when it is due and nobody else holds it. A lease, not a row lock: the worker then
    makes slow HTTP calls, and SQLite's one writer must not wait for them."""
    key_column = inspect(model).primary_key[0]
    claimed = session.execute(
        update(model).where(key_column == key, or_(model.lease_until.is_(None), model.lease_until < now),
                            or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now))
        .values(lease_until=until))
    return bool(getattr(claimed, "rowcount", 0))


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", sqlite_autocheckpoint: bool = True) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if not sqlite_autocheckpoint:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    script_dir = resources.files("citylink.store") / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(script_dir))
    cfg.attributes["engine"] = engine
    return cfg


# Held while migrating on PostgreSQL: API and worker processes starting together would otherwise all try to
# create the same tables; with it, the first migrates and the others find the schema up to date.
_MIGRATION_LOCK_KEY = 0x6D_69_67_72_61_74_65  # "migrate"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when it is already there."""
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), "head")
        return
    with engine.connect() as guard:
        guard.execute(select(func.pg_advisory_lock(_MIGRATION_LOCK_KEY)))
        try:
            command.upgrade(alembic_config(engine), "head")
        finally:
            guard.execute(select(func.pg_advisory_unlock(_MIGRATION_LOCK_KEY)))
            guard.commit()


class WalCheckpointer:
    """Copies SQLite's write-ahead log back into the database file from a thread of its own.

    With autocheckpoint on, the commit that fills the log past 1,000 pages does the copy and its disk sync
    itself, on the writer thread, and every event queued behind it waits; here the write connections have it
    off and a PASSIVE checkpoint, which never waits for or blocks a reader or a writer, runs every interval.
    See docs/decisions.md."""

    def __init__(self, engine: Engine, *, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="citylink-db-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self.checkpoint()

    def checkpoint(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # a busy or vanished file: the log just grows until the next round
            log.warning("WAL checkpoint failed; will try again", exc_info=True)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


class Database:
    """One engine, one writer thread, a few reader threads.

    SQLite takes one writer at a time; funnelling writes through one thread turns lock contention into a
    queue, and lets intake commit many events in one transaction.
    """

    def __init__(self, engine: Engine, *, derived_engine: Engine | None = None,
                 checkpointer: WalCheckpointer | None = None) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        # Effects derived from stored events (selections, grants, notifications of a service) can be rebuilt by
        # redelivering the events, so on SQLite they commit without waiting for the disk (synchronous=NORMAL):
        # a power cut may lose the last of them, never an event. See docs/decisions.md.
        self._derived_engine = derived_engine
        self.derived_sessions = sessionmaker(derived_engine or engine, expire_on_commit=False)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citylink-db-write")
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="citylink-db-read")
        self._checkpointer = checkpointer

    @classmethod
    def open(cls, url: str, *, sqlite_synchronous: str = "FULL", run_migrations: bool = True) -> Database:
        if not url.startswith("sqlite"):
            engine = make_engine(url)
            if run_migrations:
                migrate(engine)
            return cls(engine)
        # Checkpoints run in the background (WalCheckpointer), never inside a commit on the writer thread.
        engine = make_engine(url, sqlite_synchronous=sqlite_synchronous, sqlite_autocheckpoint=False)
        if run_migrations:
            migrate(engine)
        derived = make_engine(url, sqlite_synchronous="NORMAL", sqlite_autocheckpoint=False)
        return cls(engine, derived_engine=derived, checkpointer=WalCheckpointer(engine))

    def write_sync(self, fn: Callable[[Session], T]) -> T:
        with self.sessions() as session, session.begin():
            return fn(session)

    def write_derived_sync(self, fn: Callable[[Session], T]) -> T:
        with self.derived_sessions() as session, session.begin():
            return fn(session)

    def read_sync(self, fn: Callable[[Session], T]) -> T:
        with self.sessions() as session:
            return fn(session)

    async def write(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, self.write_sync, fn)

    async def write_derived(self, fn: Callable[[Session], T]) -> T:
        """Like write, for effects that redelivery can rebuild: on the same single writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self.write_derived_sync, fn)

    async def read(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self.read_sync, fn)

    async def call_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn on the writer thread (for work that manages its own sessions, like batched intake)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
        if self._derived_engine is not None:
            self._derived_engine.dispose()
