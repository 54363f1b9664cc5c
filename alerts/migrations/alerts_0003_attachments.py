"""alerts: contents of complaint attachments (photos, logs, documents the customer sent)

Revision ID: alerts_0003
Revises: alerts_0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0003"
down_revision = "alerts_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaint_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"],
                                name=op.f("fk_complaint_attachments_complaint_id_complaints")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_attachments")),
    )
    op.create_index(op.f("ix_complaint_attachments_complaint_id"), "complaint_attachments", ["complaint_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_complaint_attachments_complaint_id"), table_name="complaint_attachments")
    op.drop_table("complaint_attachments")
