"""Alembic environment: runs against the engine citylink hands over, never a URL from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from citylink.store.tables import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through citylink.store.database.migrate(engine)")

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
