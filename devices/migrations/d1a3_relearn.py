"""devices: a request to relearn a unit's detector baseline (who, when, why, accepting its current lines)

It revises ``d1a1_presence_by_will``, not ``d1a2_serial_case``: the devices branch has two heads. The unit
table's model has these columns, and a database whose ``d1a2_serial_case`` upgrade waits for twins to be
resolved is opened by ``foreshock devices`` (the commands that resolve them) with its devices branch up to
here (:func:`devices.cli.open_registry`); after ``d1a2`` they could not read a unit there. The next devices
migration merges the two heads (``down_revision = ("d1a2_serial_case", "d1a3_relearn")``).

Revision ID: d1a3_relearn
Revises: d1a1_presence_by_will
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d1a3_relearn"
down_revision = "d1a1_presence_by_will"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("device_units", sa.Column("relearn_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("device_units",
                  sa.Column("relearn_accept", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("device_units", sa.Column("relearn_by", sa.String(200), nullable=True))
    op.add_column("device_units", sa.Column("relearn_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_units") as batch:
        for column in ("relearn_reason", "relearn_by", "relearn_accept", "relearn_requested_at"):
            batch.drop_column(column)
