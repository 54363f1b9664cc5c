"""The ``[alerts]`` example of docs/quality-loop.md is a settings file ``foreshock run`` accepts.

docs/configuration.md sent readers to quality-loop.md for ``[alerts.smtp]``, ``[[alerts.routes]]``
and the clocks per grade, which it never showed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.pool import StaticPool

from alerts.models import Route
from alerts.notify import Notifier
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "quality-loop.md"


def _example() -> str:
    section = DOC.read_text(encoding="utf-8").split("\n## Settings\n", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def test_the_alert_settings_example_loads_and_its_routes_are_accepted(tmp_path, monkeypatch):
    for var in [v for v in os.environ if v.startswith("FORESHOCK_")]:  # the example alone
        monkeypatch.delenv(var)
    path = tmp_path / "foreshock.toml"
    path.write_text(_example(), encoding="utf-8")
    alerts = load_settings(path).alerts
    assert alerts.response_s("critical") == 3600.0
    assert alerts.smtp.starttls and alerts.smtp.port == 587
    engine = make_engine("sqlite://", poolclass=StaticPool)
    migrate(engine)
    sessions = session_factory(engine)
    assert Notifier(sessions, alerts).sync_routes() == 2  # what foreshock run does at start
    with sessions() as s:
        assert {r.name: r.channel for r in s.scalars(select(Route))} == {"service-desk": "webhook",
                                                                          "acme-quality": "email"}
