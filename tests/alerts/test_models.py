"""The alerts branch migrates on both backends, matches the models, and numbers tickets uniquely."""

from __future__ import annotations

import re
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, select
from sqlalchemy.exc import IntegrityError

from alerts.models import Alert, Ticket
from alerts.numbering import format_number, next_number
from foreshock.db import Base, session_scope
from tests.alerts.conftest import ALERT_TABLES

pytestmark = pytest.mark.integration


def test_migration_matches_models(engine):
    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for t in Base.metadata.sorted_tables:
        if t.name in ALERT_TABLES:
            t.to_metadata(md)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), md)
    ours = [d for d in diffs if any(t in repr(d) for t in ALERT_TABLES)]
    assert ours == []


def test_numbers_are_monthly_and_padded(factory):
    nov, dec = 1793577600.0, 1793577600.0 + 31 * 86400
    with session_scope(factory) as s:
        got = [next_number(s, nov), next_number(s, nov), next_number(s, dec)]
    assert got == ["PF202611001", "PF202611002", "PF202612001"]


def test_bad_month_is_rejected():
    with pytest.raises(ValueError, match="YYYYMM"):
        format_number("2026-11", 1)


def test_numbers_unique_under_concurrency(factory):
    got: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(15):
                with session_scope(factory) as s:
                    n = next_number(s, 1793577600.0)
                with lock:
                    got.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == [format_number("202611", i) for i in range(1, 46)]


def _ticket(number: str, device: str = "u1", *, is_open: bool = True) -> Ticket:
    return Ticket(number=number, kind="unit", device_id=device, failure_mode="imbalance", grade="major",
                  status="received", is_open=is_open, opened_at=0.0, response_due=1.0, resolution_due=2.0,
                  eight_d={}, comments=[])


def test_one_open_ticket_per_unit_and_mode(factory):
    with session_scope(factory) as s:
        s.add(_ticket("PF202611001"))
        s.add(_ticket("PF202611002", is_open=False))  # closed history does not conflict
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(_ticket("PF202611003"))
    with session_scope(factory) as s:
        assert s.scalar(select(Ticket.number).where(Ticket.is_open.is_(True))) == "PF202611001"


def test_one_open_alert_per_unit_and_mode(factory):
    def alert(is_open: bool) -> Alert:
        return Alert(device_id="u1", failure_mode="imbalance", severity="warning", grade="major",
                     status="open" if is_open else "cleared", is_open=is_open, flapping=False,
                     raised_at=0.0, last_ts=0.0, detail={})

    with session_scope(factory) as s:
        s.add_all([alert(True), alert(False), alert(False)])
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(alert(True))


@pytest.mark.parametrize("setting,value,says", [
    ("complaint_grade", "urgent", "expected one of critical, major, minor, got 'urgent'"),
    ("surge_dimensions", ("model", "colour"), "unknown surge dimension(s) 'colour' (expected any of model, batch"),
])
def test_a_setting_every_complaint_or_surge_would_trip_over_is_refused_at_start(setting, value, says):
    from pydantic import ValidationError

    from alerts.config import AlertConfig

    with pytest.raises(ValidationError, match=re.escape(says)):
        AlertConfig(**{setting: value})
    assert AlertConfig(complaint_grade="minor", surge_dimensions=("batch",)).complaint_grade == "minor"
