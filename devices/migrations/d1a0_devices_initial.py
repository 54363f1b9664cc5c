"""devices: machine models and units (registry, credentials, presence)

Revision ID: d1a0_devices_initial
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d1a0_devices_initial"
down_revision = None
branch_labels = ("devices",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rated_rpm", sa.Float(), nullable=True),
        sa.Column("bearing_n_balls", sa.Integer(), nullable=True),
        sa.Column("bearing_ball_d", sa.Float(), nullable=True),
        sa.Column("bearing_pitch_d", sa.Float(), nullable=True),
        sa.Column("bearing_contact_deg", sa.Float(), nullable=True),
        sa.Column("iso_group", sa.Integer(), nullable=False),
        sa.Column("foundation", sa.String(16), nullable=False),
        sa.Column("zone_limits_mm_s", sa.JSON(), nullable=True),
        sa.Column("sensors", sa.JSON(), nullable=False),
        sa.Column("reporting_interval_s", sa.Float(), nullable=False),
        sa.Column("detector_config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_models")),
        sa.UniqueConstraint("name", name=op.f("uq_device_models_name")),
    )
    op.create_table(
        "device_units",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("customer", sa.String(200), nullable=True),
        sa.Column("site", sa.String(200), nullable=True),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("firmware", sa.String(64), nullable=True),
        sa.Column("warranty_end", sa.Date(), nullable=True),
        sa.Column("batch", sa.String(64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("auto_registered", sa.Boolean(), nullable=False),
        sa.Column("decommissioned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mqtt_password_hash", sa.String(255), nullable=True),
        sa.Column("provisioned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("presence", sa.String(16), nullable=False),
        sa.Column("presence_ts_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["device_models.id"], name=op.f("fk_device_units_model_id_device_models"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_units")),
    )
    op.create_index(op.f("ix_device_units_model_id"), "device_units", ["model_id"])
    op.create_index(op.f("ix_device_units_customer"), "device_units", ["customer"])
    op.create_index(op.f("ix_device_units_batch"), "device_units", ["batch"])
    op.create_index(op.f("ix_device_units_last_seen_ms"), "device_units", ["last_seen_ms"])


def downgrade() -> None:
    op.drop_table("device_units")
    op.drop_table("device_models")
