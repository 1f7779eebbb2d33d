"""Hot-path statements sent straight to the driver's cursor, compiled by SQLAlchemy once per dialect and shape.

Measured in the writer thread on SQLite: a prebuilt Core statement costs 15-90 µs an execute where the driver
alone takes 2-15 µs (a SAVEPOINT through Core 15 µs, SELECT 1 on the raw connection 1.7 µs). Intake and the
services' actions send about fourteen statements per event, so that overhead was a quarter of an event's time
to its grant. Here SQLAlchemy still writes the SQL (quoting, the dialect's placeholders and casts) and still
converts each value with its column type's own bind processor (JSON, datetimes); what is skipped is the per-call
execution context, compile-cache lookup and result set-up. See docs/decisions.md ("Hot statements go to the
driver").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

_Processor = Callable[[Any], Any] | None
_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Placeholders:
    """A statement's SQL for one dialect, and how to fill its placeholders from a mapping of parameters."""

    sql: str
    names: tuple[str, ...]  # bind names in placeholder order
    constants: tuple[Any, ...]  # per name, the bind's own value (.values(x=True), LIMIT 1), or _MISSING: given
    processors: tuple[_Processor, ...]  # per name, the bind type's conversion for the driver
    positional: bool

    def params(self, given: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [given[name] if constant is _MISSING else constant
                  for name, constant in zip(self.names, self.constants, strict=True)]
        converted = [value if process is None else process(value)
                     for value, process in zip(values, self.processors, strict=True)]
        return tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))


def _placeholders(compiled: Any, dialect: Dialect, given: Collection[str]) -> _Placeholders:
    names = tuple(compiled.positiontup or compiled.binds)
    binds = [compiled.binds[name] for name in names]
    return _Placeholders(
        compiled.string, names,
        tuple(_MISSING if name in given else bind.effective_value for name, bind in zip(names, binds, strict=True)),
        tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds),
        bool(compiled.positiontup))


_CONNECTION = "citylink.direct_connection"


def _driver_connection(session: Session) -> tuple[Dialect, Any]:
    """The dialect and driver connection of the session's transaction, looked up once per transaction
    (Session.connection() costs about 10 µs a call). Keyed by the transaction object itself, so a session that
    goes on to another transaction (and maybe another pooled connection) looks it up again."""
    cached = session.info.get(_CONNECTION)
    if cached is None or cached[0] is not session.get_transaction():
        connection = session.connection()  # begins the transaction when none has begun yet
        cached = session.info[_CONNECTION] = (session.get_transaction(), connection.dialect, connection.connection)
    return cached[1], cached[2]


class Direct:
    """An INSERT, UPDATE or DELETE run with many parameter sets in one driver executemany."""

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Placeholders] = {}

    def executemany(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Every row must have the same keys (the columns to write, plus the WHERE clause's bind names)."""
        if not rows:
            return
        dialect, dbapi = _driver_connection(session)
        keys = tuple(rows[0])
        compiled = self._compiled.get((dialect.name, keys))
        if compiled is None:
            statement = self._statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
            compiled = self._compiled[(dialect.name, keys)] = _placeholders(statement, dialect, keys)
        cursor = dbapi.cursor()
        try:
            cursor.executemany(compiled.sql, [compiled.params(row) for row in rows])
        finally:
            cursor.close()


class DirectQuery:
    """A SELECT sent to the driver: either with plain bound parameters, or with one expanding parameter (an IN
    list of plain values, such as ids) and no other, rendered once per list length. Each column's values come
    back through its type's result processor, as Core would return them (JSON parsed, datetimes read)."""

    def __init__(self, statement: Select[Any], *, expanding: str | None = None) -> None:
        self._statement = statement
        self._expanding = expanding
        self._rendered: dict[tuple[str, int], _Placeholders] = {}
        self._processors: dict[str, tuple[_Processor, ...]] = {}

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        values = params[self._expanding] if self._expanding is not None else ()
        if self._expanding is not None and not values:
            return []
        dialect, dbapi = _driver_connection(session)
        rendered = self._rendered.get((dialect.name, len(values)))
        if rendered is None:
            rendered = self._rendered[(dialect.name, len(values))] = self._render(dialect, params)
        given = dict(zip(rendered.names, values, strict=True)) if self._expanding is not None else params
        cursor = dbapi.cursor()
        try:
            cursor.execute(rendered.sql, rendered.params(given))
            fetched = cursor.fetchall()
            processors = self._processors.get(dialect.name)
            if processors is None:  # some depend on the driver's type code for the column (PostgreSQL numbers)
                processors = self._processors[dialect.name] = tuple(
                    column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                    for column, described in zip(self._statement.selected_columns, cursor.description, strict=True))
        finally:
            cursor.close()
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [tuple(value if process is None else process(value)
                      for value, process in zip(row, processors, strict=True)) for row in fetched]

    def _render(self, dialect: Dialect, params: Mapping[str, Any]) -> _Placeholders:
        compiled = self._statement.compile(dialect=dialect)
        if self._expanding is None:
            return _placeholders(compiled, dialect, params)
        # The list's placeholders (ids_1, ids_2, ...) for this length, each converted as its bind type says.
        state = compiled.construct_expanded_state(dict(params))
        names = tuple(state.positiontup or state.parameters)
        return _Placeholders(state.statement, names, tuple(_MISSING for _ in names),
                             tuple(state.processors.get(name) for name in names), bool(state.positiontup))


@contextmanager
def savepoint(session: Session, name: str) -> Iterator[None]:
    """A savepoint sent straight to the driver (Session.begin_nested and its release cost ~0.15 ms a pair).

    As begin_nested does, what the session holds pending is flushed first, so it is not rolled back with work
    that is not its own. On failure the session forgets every object it holds: the rows behind those touched
    inside may have been rolled back, and a pending one must not be flushed at commit."""
    session.flush()
    _, dbapi = _driver_connection(session)
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            session.expunge_all()
            raise
        cursor.execute(f"RELEASE SAVEPOINT {name}")
    finally:
        cursor.close()
