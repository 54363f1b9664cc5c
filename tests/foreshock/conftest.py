"""Fixtures shared by the tests of the wiring package."""

from __future__ import annotations

import pytest

from foreshock.db import make_engine, migrate, session_factory


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()
