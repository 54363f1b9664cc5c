"""Every upgrade of a PostgreSQL database takes the same advisory lock, so that two processes starting
together after an upgrade of Foreshock take turns (foreshock.db.upgrade). The registry's own partial
upgrade (``devices/cli.py``, used while serial numbers that differ only in letter case hold the rest back)
did not take it: two such commands at once could both create the same tables."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from devices.cli import _upgrade_devices_to
from foreshock.db import _PG_UPGRADE_LOCK, make_engine


@pytest.fixture
def empty_postgres_url():
    from tests.servers import fresh_postgres_database

    yield from fresh_postgres_database()


def test_the_registry_s_partial_upgrade_takes_the_upgrade_lock(empty_postgres_url):
    engine = make_engine(empty_postgres_url)
    said: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, stmt, *a: said.append(stmt))
    try:
        _upgrade_devices_to(engine, "d1a3_relearn")
    finally:
        engine.dispose()
    locks = [i for i, s in enumerate(said) if f"pg_advisory_xact_lock({_PG_UPGRADE_LOCK})" in s]
    creates = [i for i, s in enumerate(said) if s.lstrip().upper().startswith("CREATE TABLE")]
    assert locks and creates and locks[0] < creates[0]
