"""MQTT device intake: dead letters, and the readings (positions, sensor values) devices send

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_received_at"), ["received_at"], unique=False)

    op.create_table(
        "device_readings",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("device_type", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("device_readings") as batch_op:
        batch_op.create_index("ix_device_readings_device_time", ["city", "device_id", "time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_readings") as batch_op:
        batch_op.drop_index("ix_device_readings_device_time")
    op.drop_table("device_readings")
    with op.batch_alter_table("dead_letters") as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_received_at"))
    op.drop_table("dead_letters")
