"""Environment sensors, their alarm levels, the city's alarms, the outbox of events citylink raises itself,
and an index for the retention of device readings

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sensors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_values", sa.JSON(), nullable=False),
        sa.Column("silent_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("down_occurrence", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sensors_silent_after", "sensors", ["silent_after"])
    op.create_table(
        "sensor_levels",
        sa.Column("sensor_id", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["sensor_id"], ["sensors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sensor_id", "measure"),
    )
    op.create_index("ix_sensor_levels_level", "sensor_levels", ["level"])
    op.create_table(
        "environment_alarms",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.String(length=128), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("sensors", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("city", "measure"),
    )
    op.create_table(
        "event_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("received_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_event_outbox_sent_at", "event_outbox", ["sent_at"])
    op.create_index("ix_device_readings_received_at", "device_readings", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_device_readings_received_at", table_name="device_readings")
    op.drop_index("ix_event_outbox_sent_at", table_name="event_outbox")
    op.drop_table("event_outbox")
    op.drop_table("environment_alarms")
    op.drop_index("ix_sensor_levels_level", table_name="sensor_levels")
    op.drop_table("sensor_levels")
    op.drop_index("ix_sensors_silent_after", table_name="sensors")
    op.drop_table("sensors")
