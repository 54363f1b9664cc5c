"""API fixtures: an app on a migrated database (SQLite and PostgreSQL), and one token per role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.models import ROLES
from api.testing import context_for
from api.tokens import create_token


def _empty_tables(ctx) -> None:
    """The PostgreSQL database is shared by the session: start every test from empty tables."""
    from foreshock.db import Base, import_models

    import_models()
    with ctx.session_factory() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if session.bind.dialect.has_table(session.connection(), table.name):
                session.execute(table.delete())
        session.commit()


def _with_services(c, tmp_path):
    from alerts.service import AlertService
    from devices.registry import Registry
    from foreshock.tsdb.embedded import EmbeddedStore

    c.registry = Registry(c.session_factory)
    c.alerts = AlertService(c.session_factory, registry=c.registry)
    c.store = EmbeddedStore(tmp_path / "telemetry.db")
    return c


@pytest.fixture
def ctx(db_url, tmp_path):
    c = context_for(db_url)
    _empty_tables(c)
    yield _with_services(c, tmp_path)
    c.store.close()
    c.session_factory.kw["bind"].dispose()  # give the pooled PostgreSQL connections back (the server has ~100)


@pytest.fixture
def world(ctx):
    """The context seeded with a small fleet and one failing unit (see tests/api/scenario.py)."""
    from tests.api.scenario import seed

    return seed(ctx)


@pytest.fixture
def sqlite_ctx(tmp_path):
    c = _with_services(context_for(f"sqlite:///{tmp_path / 'api.db'}"), tmp_path)
    yield c
    c.store.close()


def make_tokens(ctx) -> dict[str, str]:
    out = {}
    with ctx.session_factory() as session:
        for role in ROLES:
            _, secret = create_token(session=session, name=f"t-{role}", role=role)
            out[role] = secret
        session.commit()
    return out


@pytest.fixture
def tokens(ctx) -> dict[str, str]:
    return make_tokens(ctx)


@pytest.fixture
def client(ctx) -> TestClient:
    with TestClient(create_app(ctx)) as c:
        yield c


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
