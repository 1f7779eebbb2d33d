"""The police watch list of wanted vehicles, and licence-plate reads

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_list",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("plate_text", sa.String(length=32), nullable=False),
        sa.Column("plate_key", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plate_text"),
    )
    with op.batch_alter_table("watch_list") as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_list_plate_key"), ["plate_key"], unique=False)
    op.create_table(
        "plate_reads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("camera_id", sa.String(length=128), nullable=False),
        sa.Column("plate_text", sa.String(length=32), nullable=False),
        sa.Column("plate_key", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("low_confidence", sa.Boolean(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("hit_entry_id", sa.String(length=36), nullable=True),
        sa.Column("hit_sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plate_reads") as batch_op:
        batch_op.create_index("ix_plate_reads_key_time", ["plate_key", "time"], unique=False)
        batch_op.create_index("ix_plate_reads_unmatched_time", ["hit_entry_id", "time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plate_reads") as batch_op:
        batch_op.drop_index("ix_plate_reads_unmatched_time")
        batch_op.drop_index("ix_plate_reads_key_time")
    op.drop_table("plate_reads")
    with op.batch_alter_table("watch_list") as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_list_plate_key"))
    op.drop_table("watch_list")
