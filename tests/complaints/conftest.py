"""Fixtures of the complaint tests: a migrated, emptied database (SQLite and PostgreSQL), a registry
with units, an alert service on a settable clock that mails through a local SMTP server."""

from __future__ import annotations

import pytest

from foreshock.db import make_engine, migrate, session_factory
from tests.alerts.helpers import T0, Clock
from tests.alerts.receivers import SmtpSink


def empty_all(factory) -> None:
    from foreshock.db import Base, import_models

    import_models()
    with factory() as s:
        for table in reversed(Base.metadata.sorted_tables):
            if s.bind.dialect.has_table(s.connection(), table.name):
                s.execute(table.delete())
        s.commit()


@pytest.fixture
def factory(db_url):
    eng = make_engine(db_url)
    migrate(eng)
    f = session_factory(eng)
    empty_all(f)
    yield f
    eng.dispose()


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    if sink.controller._thread is not None:  # a test may have stopped it
        sink.close()


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def registry(factory):
    from devices.registry import Registry

    reg = Registry(factory)
    reg.create_model("P-200", rated_rpm=1480.0)
    for dev, customer, site, batch in (("P-0001", "ACME", "Bremen", "B7"), ("P-0002", "ACME", "Bremen", "B7"),
                                       ("P-0003", "Globex", "Lyon", "B6")):
        reg.create_unit(dev, model="P-200", customer=customer, site=site, firmware="1.4.2", batch=batch)
    return reg


@pytest.fixture
def service(factory, registry, clock, smtp):
    from alerts.config import AlertConfig, SmtpConfig
    from alerts.service import AlertService

    cfg = AlertConfig(smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="quality@foreshock.example"),
                      complaint_webhook_secret="hook-secret")
    svc = AlertService(factory, registry=registry, config=cfg, clock=clock)
    yield svc
    svc.close()
