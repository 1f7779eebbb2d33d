"""Fixtures for tests on the real servers of the production layout (PostgreSQL, NATS, Mosquitto)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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
    admin = create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
