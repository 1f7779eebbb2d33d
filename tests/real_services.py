"""Fixtures for tests on the real servers of the production layout (PostgreSQL, NATS, Mosquitto)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator

import nats
import nats.js.errors
import pytest
from sqlalchemy import create_engine, text

from tests.services_available import need_server

PG_HOST = os.environ.get("CITYLINK_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("CITYLINK_TEST_PG_USER", "postgres")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    need_server("PostgreSQL", PG_HOST, 5432)
    name = f"citylink_test_{uuid.uuid4().hex[:10]}"
    # pre-ping: a test may restart the server, leaving this pool's connection dead
    admin = create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:5432/postgres", isolation_level="AUTOCOMMIT",
                          pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


NATS_URL = os.environ.get("CITYLINK_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
def nats_namespace() -> Iterator[str]:
    """A namespace of its own on the NATS server, so runs never see each other's streams; deleted afterwards."""
    host, port = NATS_URL.removeprefix("nats://").rsplit(":", 1)
    need_server("NATS", host, int(port))
    namespace = f"t{uuid.uuid4().hex[:10]}"
    yield namespace
    asyncio.run(_delete_streams(namespace))


async def _delete_streams(namespace: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        for purpose in ("events", "feed"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(f"{namespace}_{purpose}".upper())
    finally:
        await nc.close()
