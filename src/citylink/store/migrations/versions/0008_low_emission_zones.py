"""Low-emission zones, the restricted and exempt vehicle lists, and violations

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emission_zones",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("end", sa.String(length=5), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "lez_restricted",
        sa.Column("plate_key", sa.String(length=32), nullable=False),
        sa.Column("plate_text", sa.String(length=32), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("plate_key"),
    )
    op.create_table(
        "lez_exempt",
        sa.Column("plate_key", sa.String(length=32), nullable=False),
        sa.Column("plate_text", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("plate_key"),
    )
    op.create_table(
        "lez_violations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("plate_key", sa.String(length=32), nullable=False),
        sa.Column("plate_text", sa.String(length=32), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("camera_id", sa.String(length=128), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("read_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("zone_id", "plate_key", "day"),
    )
    with op.batch_alter_table("lez_violations") as batch_op:
        batch_op.create_index(batch_op.f("ix_lez_violations_day"), ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lez_violations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_lez_violations_day"))
    op.drop_table("lez_violations")
    op.drop_table("lez_exempt")
    op.drop_table("lez_restricted")
    op.drop_table("emission_zones")
