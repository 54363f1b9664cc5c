"""devices: one unit in service per serial number whatever its letter case

A database holding units in service whose serials differ only in letter case ("P-0002" and "p-0002",
the same machine registered twice) is not changed: the upgrade stops with
:class:`devices.serials.SerialCaseDuplicates`, which lists them and says how to resolve them (take
the wrong spelling out of service with ``foreshock devices decommission``).

Revision ID: d1a2_serial_case
Revises: d1a1_presence_by_will
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d1a2_serial_case"
down_revision = "d1a1_presence_by_will"
branch_labels = None
depends_on = None

INDEX = "uq_device_units_serial_in_service"
KEY_INDEX = "ix_device_units_serial_key"

_units = sa.table(
    "device_units",
    sa.column("device_id", sa.String),
    sa.column("decommissioned_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("mqtt_password_hash", sa.String),
    sa.column("auto_registered", sa.Boolean),
    sa.column("last_seen_ms", sa.BigInteger),
)


def _duplicates() -> list:
    from devices.serials import SerialTwin, case_groups

    u = _units.c
    key = sa.func.lower(u.device_id)
    in_service = u.decommissioned_at.is_(None)
    dup_keys = sa.select(key).where(in_service).group_by(key).having(sa.func.count() > 1)
    rows = op.get_bind().execute(
        sa.select(u.device_id, u.created_at, u.mqtt_password_hash.is_not(None), u.auto_registered, u.last_seen_ms)
        .where(in_service, key.in_(dup_keys))
    ).all()
    return case_groups(SerialTwin(d, created, bool(prov), bool(auto), seen) for d, created, prov, auto, seen in rows)


def upgrade() -> None:
    groups = _duplicates()
    if groups:  # checked before anything is changed
        from devices.serials import SerialCaseDuplicates

        raise SerialCaseDuplicates(groups)
    where = sa.text("decommissioned_at IS NULL")
    op.create_index(INDEX, "device_units", [sa.text("lower(device_id)")], unique=True,
                    sqlite_where=where, postgresql_where=where)
    # finding a unit by its serial in any case, decommissioned ones too
    op.create_index(KEY_INDEX, "device_units", [sa.text("lower(device_id)")])


def downgrade() -> None:
    op.drop_index(KEY_INDEX, table_name="device_units")
    op.drop_index(INDEX, table_name="device_units")
