"""``MonitorConfig``: a setting out of range is named with the value given, one setting per message
(what ``--monitor-config``, the CLI's ``--detector-config`` and the API pass on to the operator)."""

from __future__ import annotations

import pytest

from detectors.config import MonitorConfig


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("trend_window", 2, "trend_window must be >= 8, got 2"),
    ("rebaseline_after", 0, "rebaseline_after must be >= 1, got 0"),
    ("max_scalar_keys", 0, "max_scalar_keys must be >= 1, got 0"),
    ("max_anomaly_keys", -1, "max_anomaly_keys must be >= 0, got -1"),
    ("max_anomaly_keys", 16, "max_anomaly_keys must be at most 8 (each series scored keeps ~2 KB in the unit's state, "
                             "which stays under 64 KB), got 16"),
    ("scalar_points", 4, "scalar_points must be >= 8, got 4"),
    ("scalar_warmup_s", -5, "scalar_warmup_s must be > 0 seconds, got -5"),
    ("mode_hold", 0, "mode_hold must be >= 1 snapshot, got 0"),
    ("mode_memory_s", 0, "mode_memory_s must be > 0 seconds, got 0"),
])
def test_an_out_of_range_setting_is_named_alone_with_its_value(setting: str, value: float, message: str) -> None:
    # these were one message listing four or two settings' limits, naming neither the culprit nor its value
    with pytest.raises(ValueError) as err:
        MonitorConfig.from_overrides({setting: value})
    assert str(err.value) == message


def test_the_limits_themselves_are_accepted() -> None:
    cfg = MonitorConfig.from_overrides({"trend_window": 8, "rebaseline_after": 1, "max_scalar_keys": 1,
                                        "max_anomaly_keys": 0, "scalar_points": 8, "scalar_warmup_s": 1,
                                        "mode_hold": 1, "mode_memory_s": 1})
    assert (cfg.trend_window, cfg.max_anomaly_keys, cfg.scalar_points) == (8, 0, 8)


def test_an_empty_name_is_said_to_be_one() -> None:
    # was "unknown detector setting(s) ; known: ..."
    with pytest.raises(ValueError, match=r"^unknown detector setting\(s\) '' \(an empty name\); known: warmup, "):
        MonitorConfig.from_overrides({"": 1})


def test_scalar_baselines_that_would_outgrow_the_state_are_refused():
    """Every scalar series keeps ``scalar_points`` values while it commissions: 16 series of 1,000
    values made a unit's state about 320 KB (the target is 64 KB)."""
    from detectors.config import MonitorConfig

    with pytest.raises(ValueError, match=r"max_scalar_keys x scalar_points must be at most 1536.*got 16 x 1000"):
        MonitorConfig(scalar_points=1000)
    assert MonitorConfig(scalar_points=384, max_scalar_keys=4).scalar_points == 384  # fewer series, more values
