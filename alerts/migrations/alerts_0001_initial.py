"""alerts: alerts, tickets, audit trail, links, counters, maintenance windows, notifications

Revision ID: alerts_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0001"
down_revision = None
branch_labels = ("alerts",)
depends_on = None


def upgrade() -> None:
    op.create_table('alert_processed',
    sa.Column('source_key', sa.String(length=300), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('source_key', name=op.f('pk_alert_processed'))
    )
    op.create_table('maintenance_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=True),
    sa.Column('site', sa.String(length=128), nullable=True),
    sa.Column('starts_at', sa.Float(), nullable=False),
    sa.Column('ends_at', sa.Float(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_windows'))
    )
    op.create_table('notification_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('customer', sa.String(length=128), nullable=True),
    sa.Column('site', sa.String(length=128), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('min_grade', sa.String(length=16), nullable=False),
    sa.Column('events', sa.String(length=500), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_routes')),
    sa.UniqueConstraint('name', name=op.f('uq_notification_routes_name'))
    )
    op.create_table('ticket_counters',
    sa.Column('month', sa.String(length=6), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_ticket_counters'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=True),
    sa.Column('group_key', sa.String(length=200), nullable=True),
    sa.Column('failure_mode', sa.String(length=64), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('assignee', sa.String(length=128), nullable=True),
    sa.Column('team', sa.String(length=128), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('customer', sa.String(length=128), nullable=True),
    sa.Column('site', sa.String(length=128), nullable=True),
    sa.Column('firmware', sa.String(length=64), nullable=True),
    sa.Column('batch', sa.String(length=64), nullable=True),
    sa.Column('opened_at', sa.Float(), nullable=False),
    sa.Column('response_due', sa.Float(), nullable=False),
    sa.Column('resolution_due', sa.Float(), nullable=False),
    sa.Column('responded_at', sa.Float(), nullable=True),
    sa.Column('closed_at', sa.Float(), nullable=True),
    sa.Column('response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('repeat_failure', sa.Boolean(), nullable=False),
    sa.Column('eight_d', sa.JSON(), nullable=False),
    sa.Column('comments', sa.JSON(), nullable=False),
    sa.Column('feedback_verdict', sa.String(length=16), nullable=True),
    sa.Column('feedback', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('number', name=op.f('uq_tickets_number'))
    )
    op.create_index(op.f('ix_tickets_device_id'), 'tickets', ['device_id'], unique=False)
    op.create_index(op.f('ix_tickets_opened_at'), 'tickets', ['opened_at'], unique=False)
    op.create_index('uq_tickets_open_fleet', 'tickets', ['group_key', 'failure_mode'], unique=True, sqlite_where=sa.text("is_open AND kind = 'fleet'"), postgresql_where=sa.text("is_open AND kind = 'fleet'"))
    op.create_index('uq_tickets_open_unit_mode', 'tickets', ['device_id', 'failure_mode'], unique=True, sqlite_where=sa.text("is_open AND kind = 'unit'"), postgresql_where=sa.text("is_open AND kind = 'unit'"))
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=128), nullable=False),
    sa.Column('failure_mode', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('flapping', sa.Boolean(), nullable=False),
    sa.Column('raised_at', sa.Float(), nullable=False),
    sa.Column('escalated_at', sa.Float(), nullable=True),
    sa.Column('cleared_at', sa.Float(), nullable=True),
    sa.Column('acknowledged_at', sa.Float(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('last_ts', sa.Float(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_alerts_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index(op.f('ix_alerts_device_id'), 'alerts', ['device_id'], unique=False)
    op.create_index('uq_alerts_open_unit_mode', 'alerts', ['device_id', 'failure_mode'], unique=True, sqlite_where=sa.text('is_open'), postgresql_where=sa.text('is_open'))
    op.create_table('notification_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('next_attempt_at', sa.Float(), nullable=False),
    sa.Column('sent_at', sa.Float(), nullable=True),
    sa.Column('response_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['route_id'], ['notification_routes.id'], name=op.f('fk_notification_deliveries_route_id_notification_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries'))
    )
    op.create_index(op.f('ix_notification_deliveries_status'), 'notification_deliveries', ['status'], unique=False)
    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    op.create_index(op.f('ix_ticket_events_ticket_id'), 'ticket_events', ['ticket_id'], unique=False)
    op.create_table('ticket_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('linked_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['linked_id'], ['tickets.id'], name=op.f('fk_ticket_links_linked_id_tickets')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_links_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_links')),
    sa.UniqueConstraint('ticket_id', 'linked_id', 'reason', name='uq_ticket_links_pair')
    )
    op.create_index(op.f('ix_ticket_links_ticket_id'), 'ticket_links', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_links_ticket_id'), table_name='ticket_links')
    op.drop_table('ticket_links')
    op.drop_index(op.f('ix_ticket_events_ticket_id'), table_name='ticket_events')
    op.drop_table('ticket_events')
    op.drop_index(op.f('ix_notification_deliveries_status'), table_name='notification_deliveries')
    op.drop_table('notification_deliveries')
    op.drop_index('uq_alerts_open_unit_mode', table_name='alerts', sqlite_where=sa.text('is_open'), postgresql_where=sa.text('is_open'))
    op.drop_index(op.f('ix_alerts_device_id'), table_name='alerts')
    op.drop_table('alerts')
    op.drop_index('uq_tickets_open_unit_mode', table_name='tickets', sqlite_where=sa.text("is_open AND kind = 'unit'"), postgresql_where=sa.text("is_open AND kind = 'unit'"))
    op.drop_index('uq_tickets_open_fleet', table_name='tickets', sqlite_where=sa.text("is_open AND kind = 'fleet'"), postgresql_where=sa.text("is_open AND kind = 'fleet'"))
    op.drop_index(op.f('ix_tickets_opened_at'), table_name='tickets')
    op.drop_index(op.f('ix_tickets_device_id'), table_name='tickets')
    op.drop_table('tickets')
    op.drop_table('ticket_counters')
    op.drop_table('notification_routes')
    op.drop_table('maintenance_windows')
    op.drop_table('alert_processed')
