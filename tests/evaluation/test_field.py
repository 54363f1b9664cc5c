"""`foreshock evaluate --field`: the precision of warnings in the field, from closure feedback."""

from __future__ import annotations

import json
import time

from alerts.service import AlertService
from detectors.types import Assessment
from foreshock.cli import main
from foreshock.db import make_engine, migrate, session_factory


def _ticket(service: AlertService, device: str, ts: float) -> str:
    a = Assessment(ts=ts, state="warning", failure_mode="outer_race", confidence=0.9)
    changes = service.handle_assessment(device, a, source_key=f"{device}:{ts}")
    return next(c.ticket for c in changes if c.ticket)


def test_field_precision_is_reported(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    engine = make_engine(url)
    migrate(engine)
    service = AlertService(session_factory(engine))
    now = time.time()
    confirmed = _ticket(service, "U-1", now)
    false_alarm = _ticket(service, "U-2", now)
    service.record_feedback(confirmed, "confirmed", actor="field-tech")
    service.record_feedback(false_alarm, "false_alarm", actor="field-tech")
    service.close()
    engine.dispose()

    monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
    out = tmp_path / "field.json"
    assert main(["evaluate", "--field", "--json", str(out)]) == 0
    field = json.loads(out.read_text())["field"]
    assert field["all"] == {"confirmed": 1, "false_alarm": 1, "precision": 0.5}
    assert "precision 0.50" in capsys.readouterr().out


def test_evaluate_needs_a_path_or_field(capsys):
    assert main(["evaluate"]) == 2
    assert "--field" in capsys.readouterr().err


def test_field_without_a_database_says_so_and_makes_none(tmp_path, monkeypatch, capsys):
    """``evaluate --field`` pointed at no database (no --config, in another folder) made an empty SQLite
    database in ./foreshock-data and reported 0 confirmed, 0 false alarms, as if it were the field's."""
    data = tmp_path / "foreshock-data"
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(data))
    monkeypatch.delenv("FORESHOCK_DATABASE__URL", raising=False)
    assert main(["evaluate", "--field"]) == 2
    err = capsys.readouterr().err
    assert (f"--field: there is no database at {data / 'foreshock.db'} (settings database.url / data_dir): give "
            "the service's settings with --config") in err, err
    assert not data.exists()
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'none.db'}")
    assert main(["evaluate", "--field"]) == 2
    assert f"there is no database at {tmp_path / 'none.db'}" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
