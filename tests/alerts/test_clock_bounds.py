"""SLA clocks (``alerts.response_h``, ``alerts.resolution_h``) are bounded: a clock of 1e9 hours (someone's
"no deadline for minor tickets") or ``inf`` (TOML takes it) was accepted, and every ticket of that grade
then broke where it was shown: its due time is no date (``year 116106 is out of range``), so the ticket
list answered a 400 with that message and ``foreshock tickets list`` exited with it."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from alerts.config import MAX_CLOCK_H, AlertConfig
from alerts.service import AlertService
from foreshock.settings import SettingsError, load_settings
from tests.alerts.helpers import T0, Clock, assess

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("setting", ["response_h", "resolution_h"])
@pytest.mark.parametrize("hours", [1e9, MAX_CLOCK_H + 1])
def test_a_clock_longer_than_ten_years_is_refused_naming_the_grade_and_the_limit(setting, hours):
    clocks = {"critical": 2.0, "major": 8.0, "minor": hours}
    with pytest.raises(ValidationError) as err:
        AlertConfig(**{setting: clocks})
    (problem,) = err.value.errors()
    assert problem["loc"] == (setting,)
    assert f"at most {MAX_CLOCK_H:g} hours (10 years)" in problem["msg"] and "minor" in problem["msg"]


@pytest.mark.parametrize("setting", ["response_h", "resolution_h"])
def test_an_infinite_clock_is_refused_naming_the_grade(setting):
    with pytest.raises(ValidationError) as err:
        AlertConfig(**{setting: {"critical": 2.0, "major": 8.0, "minor": math.inf}})
    assert [(e["loc"], e["msg"]) for e in err.value.errors()] == [((setting, "minor"),
                                                                   "Input should be a finite number")]


def test_the_settings_error_names_the_setting(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "foreshock.toml").write_text("[alerts]\nresolution_h = { critical = 24, major = 72, minor = 1e9 }\n")
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path / "foreshock.toml")
    assert "setting alerts.resolution_h" in str(err.value) and "at most 87600 hours" in str(err.value)


def test_a_ticket_on_the_longest_clock_is_shown_with_its_due_time(factory):
    longest = {"critical": MAX_CLOCK_H, "major": MAX_CLOCK_H, "minor": MAX_CLOCK_H}
    svc = AlertService(factory, config=AlertConfig(response_h=longest, resolution_h=longest), clock=Clock(T0))
    svc.handle_assessment("u1", assess("warning", T0), source_key="k")
    (ticket,) = svc.list_tickets()
    assert ticket["resolution_due"] == "2036-10-30T00:00:00+00:00"  # T0 + 87600 h
