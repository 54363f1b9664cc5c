"""Fixtures of the alerts tests: a migrated, emptied relational store on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from foreshock.db import make_engine, migrate, session_factory

ALERT_TABLES = (
    "complaint_attachments", "customer_messages", "complaints", "corrective_actions", "notification_deliveries", "notification_routes", "ticket_links", "ticket_events", "alerts", "tickets",
    "ticket_counters", "alert_processed", "maintenance_windows",
)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    migrate(eng)
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(ALERT_TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for t in ALERT_TABLES:
                conn.execute(text(f"DELETE FROM {t}"))
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine):
    return session_factory(engine)


@pytest.fixture
def one_unit_svc(factory):
    """An alert service over the store with one registered unit, ``u1`` (model P-200, customer ACME)."""
    from alerts.service import AlertService
    from tests.alerts.helpers import Clock, FakeRegistry

    s = AlertService(factory, clock=Clock(), registry=FakeRegistry({"u1": {"model": "P-200", "customer": "ACME"}}))
    yield s
    s.close()
