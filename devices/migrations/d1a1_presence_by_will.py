"""devices: remember whether the presence was set by the broker's last will

Revision ID: d1a1_presence_by_will
Revises: d1a0_devices_initial
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d1a1_presence_by_will"
down_revision = "d1a0_devices_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "device_units", sa.Column("presence_by_will", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("device_units") as batch:
        batch.drop_column("presence_by_will")
