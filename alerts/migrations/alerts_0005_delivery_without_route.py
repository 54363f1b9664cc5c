"""alerts: a delivery without a routing rule (a message to a customer's contact, sent through the outbox)

Revision ID: alerts_0005
Revises: alerts_0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0005"
down_revision = "alerts_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.alter_column("route_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM notification_deliveries WHERE route_id IS NULL")
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.alter_column("route_id", existing_type=sa.Integer(), nullable=False)
