"""Shared fixtures: real servers (see tests/servers.py) and clean settings."""

from __future__ import annotations

import pytest

from tests.servers import db_url, mosquitto, postgres_url  # noqa: F401 - fixtures
from tests.tsdb_servers import influxd, victoria_metrics  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch):
    """No FORESHOCK_* variable of the developer's shell leaks into a test."""
    import os

    for key in list(os.environ):
        if key.startswith("FORESHOCK_") and key != "FORESHOCK_TEST_PG":
            monkeypatch.delenv(key, raising=False)
    from foreshock.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _dispose_engines():
    """Return every test's pooled database connections, so a long run never exhausts PostgreSQL."""
    yield
    from foreshock.db import dispose_all

    dispose_all()


@pytest.fixture
def sessions(tmp_path):
    """A migrated SQLite database of this test's own, as a session factory."""
    from foreshock.db import make_engine, migrate, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()
