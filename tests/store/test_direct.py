"""Statements sent straight to the driver write exactly what SQLAlchemy Core would, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from citylink.store.database import make_engine
from citylink.store.direct import Direct, DirectQuery

_META = MetaData()
_ROWS = Table("direct_rows", _META, Column("id", String(8), primary_key=True), Column("doc", JSON),
              Column("at", DateTime(timezone=True)), Column("flag", Boolean), Column("note", String(40)),
              Column("lon", Float))
_INSERT = Direct(insert(_ROWS))
_UPDATE = Direct(update(_ROWS).where(_ROWS.c.id == bindparam("_id")))
_FLAG = Direct(update(_ROWS).where(_ROWS.c.id == bindparam("_id")).values(flag=True))
_BY_IDS = DirectQuery(select(_ROWS).where(_ROWS.c.id.in_(bindparam("ids", expanding=True))).order_by(_ROWS.c.id),
                      expanding="ids")
_NEWEST = DirectQuery(select(_ROWS.c.id, _ROWS.c.at).where(_ROWS.c.note == bindparam("note"))
                      .order_by(_ROWS.c.id.desc()).limit(1))
AT = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'direct.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _META.create_all(engine)
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        return [tuple(r) for r in session.execute(select(_ROWS).order_by(_ROWS.c.id))]


def test_inserts_and_updates_read_back_as_core_writes_them(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.connection().execute(insert(_ROWS), [{"id": "core", "doc": {"cameras": ["a", "b"], "n": 2},
                                                      "at": AT, "flag": False, "note": None}])
        _INSERT.executemany(session, [{"id": "direct", "doc": {"cameras": ["a", "b"], "n": 2}, "at": AT,
                                       "flag": False, "note": None},
                                      {"id": "empty", "doc": [], "at": AT, "flag": False, "note": "ünïcode"}])
    core, direct, empty = sorted(_rows(engine), key=lambda r: ["core", "direct", "empty"].index(str(r[0])))
    assert direct[1:] == core[1:]
    assert empty[1:] == ([], core[2], False, "ünïcode", None)

    with Session(engine) as session, session.begin():
        _UPDATE.executemany(session, [{"_id": "direct", "doc": {"moved": True}, "note": "updated"}])
        _FLAG.executemany(session, [{"_id": "empty"}, {"_id": "core"}])
    rows = {r[0]: r[1:] for r in _rows(engine)}
    assert rows["direct"][0] == {"moved": True} and rows["direct"][3] == "updated"
    assert rows["direct"][2] is False  # a column not named stays as it was
    assert rows["empty"][2] is True and rows["core"][2] is True


def test_a_rolled_back_transaction_keeps_nothing_written_directly(engine: Engine) -> None:
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        _INSERT.executemany(session, [{"id": "gone", "doc": {}, "at": AT, "flag": False, "note": None}])
        raise RuntimeError("abandon")
    assert _rows(engine) == []


def test_queries_read_back_what_core_reads(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        _INSERT.executemany(session, [{"id": f"r{i}", "doc": {"n": i, "tags": ["a"]}, "at": AT, "flag": i % 2 == 0,
                                       "note": "same", "lon": 24.9 + i} for i in range(4)])
    with Session(engine) as session:
        core = [tuple(r) for r in session.execute(select(_ROWS).where(_ROWS.c.id.in_(["r1", "r3", "none"]))
                                                  .order_by(_ROWS.c.id))]
        assert _BY_IDS.rows(session, {"ids": ["r1", "r3", "none"]}) == core
        assert _BY_IDS.rows(session, {"ids": ["r2"]})[0][1] == {"n": 2, "tags": ["a"]}
        assert _BY_IDS.rows(session, {"ids": ["r2"]})[0][5] == 26.9
        assert _BY_IDS.rows(session, {"ids": []}) == []
        assert _NEWEST.rows(session, {"note": "same"}) == [("r3", core[0][2])]
        assert _NEWEST.rows(session, {"note": "other"}) == []
