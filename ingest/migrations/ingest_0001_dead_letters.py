"""ingest: dead-letter table

Revision ID: ingest_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0001"
down_revision = None
branch_labels = ("ingest",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(512), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
    )
    op.create_index("ix_ingest_dead_letters_device_received", "ingest_dead_letters", ["device_id", "received_at"])
    op.create_index("ix_ingest_dead_letters_reason_received", "ingest_dead_letters", ["reason", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_ingest_dead_letters_reason_received", table_name="ingest_dead_letters")
    op.drop_index("ix_ingest_dead_letters_device_received", table_name="ingest_dead_letters")
    op.drop_table("ingest_dead_letters")
