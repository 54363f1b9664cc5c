"""Field feedback ("false alarm" verdicts) raises a unit's detector thresholds by a factor that has an upper
bound: ``alerts.feedback_max_factor`` had none (``Field(1.5, ge=1)``), and a value like 1000 let false-alarm
verdicts raise a unit's warning threshold up to and past its alarm, so that it could not warn ahead of a
failure any more."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from alerts.config import FEEDBACK_MAX_FACTOR_LIMIT, AlertConfig
from detectors.config import MonitorConfig
from foreshock.settings import SettingsError, load_settings


@pytest.mark.parametrize("bad", [1000.0, 4.0, 2.01, 0.5, math.nan])
def test_a_feedback_max_factor_outside_1_to_2_is_refused_naming_the_range(bad):
    with pytest.raises(ValidationError) as err:
        AlertConfig(feedback_max_factor=bad)
    (problem,) = err.value.errors()
    assert problem["loc"] == ("feedback_max_factor",)
    assert f"must be between 1 and 2, got {bad:g}" in problem["msg"]


@pytest.mark.parametrize("good", [1.0, 1.5, 2.0])
def test_a_feedback_max_factor_within_the_range_is_kept(good):
    assert AlertConfig(feedback_max_factor=good).feedback_max_factor == good


def test_the_settings_error_names_the_setting_its_variable_and_the_range(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORESHOCK_ALERTS__FEEDBACK_MAX_FACTOR", "1000")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert ("setting alerts.feedback_max_factor (FORESHOCK_ALERTS__FEEDBACK_MAX_FACTOR): must be between 1 and 2, "
            "got 1000") in str(err.value)


def test_the_limit_keeps_the_raised_warning_halfway_below_the_alarm_of_the_detector_defaults():
    """The limit is sqrt(alarm_ratio / warning_ratio) of the detectors' defaults (the raised warning level halfway,
    on a log scale, to the alarm): if those defaults change, so must the limit."""
    defaults = MonitorConfig()
    assert FEEDBACK_MAX_FACTOR_LIMIT == pytest.approx(math.sqrt(defaults.alarm_ratio / defaults.warning_ratio))
    # a unit at the limit still has watch < warning < alarm: the detection stage applies the factor as below
    raised = MonitorConfig(watch_ratio=defaults.watch_ratio * FEEDBACK_MAX_FACTOR_LIMIT,
                           warning_ratio=defaults.warning_ratio * FEEDBACK_MAX_FACTOR_LIMIT)
    assert raised.warning_ratio < raised.alarm_ratio
    assert math.log(raised.alarm_ratio / raised.warning_ratio) == pytest.approx(
        0.5 * math.log(defaults.alarm_ratio / defaults.warning_ratio))


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_feedback_step_stays_bounded_to_0_to_1(bad):
    """Its neighbour was bounded already; with the factor capped at 2 a step of 1 reaches the cap in one verdict
    but no further."""
    with pytest.raises(ValidationError, match="feedback_step"):
        AlertConfig(feedback_step=bad)
