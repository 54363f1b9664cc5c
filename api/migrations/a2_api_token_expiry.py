"""api: tokens may expire (existing tokens keep none)

Revision ID: a2_api_token_expiry
Revises: a1_api_tokens
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a2_api_token_expiry"
down_revision = "a1_api_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires")
