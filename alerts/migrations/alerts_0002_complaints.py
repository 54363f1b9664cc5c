"""alerts: customer complaints, customer communication log, corrective actions; ticket source and follow-up

Revision ID: alerts_0002
Revises: alerts_0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0002"
down_revision = "alerts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no table rebuild on SQLite: the partial unique indexes stay as they are)
    op.add_column("tickets", sa.Column("source", sa.String(length=16), nullable=False, server_default="proactive"))
    op.add_column("tickets", sa.Column("customer_followup", sa.JSON(), nullable=True))
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("customer", sa.String(length=128), nullable=False),
        sa.Column("contact_name", sa.String(length=128), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("site", sa.String(length=128), nullable=True),
        sa.Column("failure_mode", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.Float(), nullable=False),
        sa.Column("request", sa.String(length=16), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("warned_at", sa.Float(), nullable=True),
        sa.Column("warning_lead_s", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_complaints_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_complaints_external_ref")),
    )
    op.create_index(op.f("ix_complaints_ticket_id"), "complaints", ["ticket_id"], unique=False)
    op.create_index(op.f("ix_complaints_device_id"), "complaints", ["device_id"], unique=False)
    op.create_index(op.f("ix_complaints_received_at"), "complaints", ["received_at"], unique=False)
    op.create_table(
        "customer_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_customer_messages_ticket_id_tickets")),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"],
                                name=op.f("fk_customer_messages_complaint_id_complaints")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_messages")),
    )
    op.create_index(op.f("ix_customer_messages_ticket_id"), "customer_messages", ["ticket_id"], unique=False)
    op.create_table(
        "corrective_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("failure_modes", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.Float(), nullable=False),
        sa.Column("baseline_d", sa.Float(), nullable=False),
        sa.Column("target_ratio", sa.Float(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.Column("verified_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_corrective_actions_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrective_actions")),
    )


def downgrade() -> None:
    op.drop_table("corrective_actions")
    op.drop_index(op.f("ix_customer_messages_ticket_id"), table_name="customer_messages")
    op.drop_table("customer_messages")
    op.drop_index(op.f("ix_complaints_received_at"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_device_id"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_ticket_id"), table_name="complaints")
    op.drop_table("complaints")
    op.drop_column("tickets", "customer_followup")
    op.drop_column("tickets", "source")
