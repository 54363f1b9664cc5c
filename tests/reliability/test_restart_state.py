"""Alert state across a restart: a new AlertService on the same database neither re-opens an alert
nor opens a second ticket for a fault it already knows, and a redelivered message changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from alerts.models import Alert, Ticket
from alerts.service import AlertService
from detectors.types import Assessment
from foreshock.db import make_engine, migrate, session_factory


def _counts(sessions, device: str) -> tuple[int, int]:
    with sessions() as s:
        alerts = s.scalar(select(func.count()).select_from(Alert).where(Alert.device_id == device))
        tickets = s.scalar(select(func.count()).select_from(Ticket))
    return alerts, tickets


def test_restarted_alert_service_reopens_nothing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    alarm = Assessment(ts=1_700_000_000.0, state="alarm", failure_mode="outer_race", reasons=["BPFO"])
    first = AlertService(sessions)
    assert first.handle_assessment("U-1", alarm, source_key="U-1:vibration:1:1700000000000")
    assert _counts(sessions, "U-1") == (1, 1)
    first.close()

    restarted = AlertService(sessions)  # a new process: state comes from the database only
    assert restarted.handle_assessment("U-1", alarm, source_key="U-1:vibration:1:1700000000000") == []  # redelivery
    later = Assessment(ts=1_700_000_600.0, state="alarm", failure_mode="outer_race", reasons=["BPFO"])
    restarted.handle_assessment("U-1", later, source_key="U-1:vibration:2:1700000600000")
    assert _counts(sessions, "U-1") == (1, 1)  # same alert, same ticket
    restarted.close()
    engine.dispose()
