"""Every number of the ``[alerts]`` settings is finite: TOML reads ``inf`` and ``nan``, and
``complaint_evidence_before_h = inf`` was taken, after which every complaint about a unit failed with a
traceback (``OverflowError: timestamp out of range``) on the command line and a 500 from the API."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alerts.config import AlertConfig, SmtpConfig
from foreshock.settings import SettingsError, load_settings

# feedback_max_factor names its range for nan and inf itself (tests/alerts/test_feedback_bounds.py)
FLOATS = [name for name, f in AlertConfig.model_fields.items() if f.annotation is float
          and name != "feedback_max_factor"]


def test_the_float_settings_are_found():
    assert {"critical_ttf_h", "complaint_evidence_before_h", "repeat_window_d", "retry_max_s"} <= set(FLOATS)


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_setting_that_is_not_finite_is_refused_naming_it(name, value):
    with pytest.raises(ValidationError) as err:
        AlertConfig(**{name: value})
    assert [(e["loc"], e["msg"]) for e in err.value.errors()] == [((name,), "Input should be a finite number")]


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_the_feedback_limit_names_its_range_for_them(value):
    with pytest.raises(ValidationError, match=f"must be between 1 and 2, got {value:g}"):
        AlertConfig(feedback_max_factor=value)


def test_the_smtp_timeout_too():
    with pytest.raises(ValidationError, match="finite number"):
        SmtpConfig(timeout_s=float("inf"))


def test_the_settings_error_names_the_setting_and_its_variable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "foreshock.toml").write_text("[alerts]\ncomplaint_evidence_before_h = inf\n")
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path / "foreshock.toml")
    assert ("setting alerts.complaint_evidence_before_h (FORESHOCK_ALERTS__COMPLAINT_EVIDENCE_BEFORE_H): Input "
            "should be a finite number") in str(err.value)
