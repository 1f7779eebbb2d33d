"""The linkage protocol: received messages with their processing status, the outbox to partners, each
partner's delivery state; and how far each CAP receiver has been sent

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkage_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("svc_ty", sa.String(length=16), nullable=False),
        sa.Column("send_cd", sa.String(length=64), nullable=False),
        sa.Column("rcv_cd", sa.String(length=64), nullable=False),
        sa.Column("sys_cd", sa.String(length=32), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("raw_bytes", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_linkage_messages_received_at", "linkage_messages", ["received_at"])
    op.create_index("ix_linkage_messages_status", "linkage_messages", ["status"])
    op.create_table(
        "linkage_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("trail", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_linkage_outbox_partner_state", "linkage_outbox", ["partner", "state", "seq"])
    op.create_table(
        "linkage_partners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_key", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cap_receivers",
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("last_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("url"),
    )


def downgrade() -> None:
    op.drop_table("cap_receivers")
    op.drop_table("linkage_partners")
    op.drop_index("ix_linkage_outbox_partner_state", table_name="linkage_outbox")
    op.drop_table("linkage_outbox")
    op.drop_index("ix_linkage_messages_status", table_name="linkage_messages")
    op.drop_index("ix_linkage_messages_received_at", table_name="linkage_messages")
    op.drop_table("linkage_messages")
