"""alerts: an index in the alert list's order (raised_at, id), newest first

Revision ID: alerts_0004
Revises: alerts_0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "alerts_0004"
down_revision = "alerts_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_raised_at_id", "alerts", ["raised_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_raised_at_id", table_name="alerts")
