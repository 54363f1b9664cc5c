"""The tunable settings of :class:`detectors.UnitMonitor`, validated, with their meaning.

>>> MonitorConfig(warmup=50).warmup
50
>>> MonitorConfig(persistence=0)
Traceback (most recent call last):
...
ValueError: persistence must be >= 1, got 0
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from difflib import get_close_matches
from typing import Any

__all__ = ["MonitorConfig"]


AXES = ("", "x", "y", "z", "h", "v")
# values of scalar baselines a unit's state may hold while its series commission (16 series x 96 values,
# the defaults, with a vibration baseline commissioning at the same time: at most 58 KB of the unit's
# state since its compact form of 2026-11-22, 71 KB before; tests/detectors/test_state_size.py)
SCALAR_POINTS_BUDGET = 16 * 96  # as devices.protocol.AXES, plus "": the first axis a unit sends
# series the NAB-measured anomaly detector may score per unit: 1.7-2.0 KB of state each since 2026-11-22
# (2.4-2.7 KB before; its last 1,024 levels among them); with 8 of them, the most scalar series and a
# bearing's snapshots, every trend tier full and a warning: 60 KB (tests/detectors/test_state_size.py);
# 16 measured 74 KB before the compact state
MAX_ANOMALY_KEYS = 8
# the optional absolute functional-failure limits (None: not set)
FAILURE_LIMITS = ("failure_peak_g", "failure_rms_g")
# failure_peak_g trends the snapshots' peak too, a third trend with the others' tiers: with 2 tiers, the most
# scalar series sent apart and every trend's times its own, a unit's state measured 62.4 KB (57.9 KB without
# it); with 3 tiers 67.1 KB, over the 64 KB (tests/detectors/test_failure_limit.py)
MAX_TIERS_WITH_PEAK = 2


@dataclass(frozen=True)
class MonitorConfig:
    """Operator-facing knobs; the defaults hold the false-warning rate low (see each field)."""

    warmup: int = 30  # snapshots of commissioning that form the baseline
    watch_log10p: float = 4.0  # T² p-value (as -log10 p, EWMA-smoothed) for "anomalous"
    warning_log10p: float = 8.0  # ... and for "warning", once persistent
    persistence: int = 3  # consecutive anomalous snapshots before watch/warning
    alpha: float = 0.3  # EWMA weight of the newest T² score
    watch_ratio: float = 1.6  # health indicator (RMS, smoothed) over its reference: watch (4 dB)
    warning_ratio: float = 2.5  # ... warning (8 dB, the usual "alert" step over baseline)
    alarm_ratio: float = 10.0  # ... functional failure (20 dB): alarm, and the limit for time to failure
    smooth: int = 5  # snapshots in the running median of the health indicator
    family_db: float = 6.0  # a bearing defect family this far above the envelope background ...
    family_z: float = 6.0  # ... and this many robust SD above its baseline is a warning
    min_z_scale: float = 0.05  # floor of the robust scale (log units: 5 %) so a quiet baseline is not brittle
    ph_delta: float = 1.0  # Page-Hinkley allowance, in robust SD of the health indicator
    ph_threshold: float = 50.0  # Page-Hinkley threshold, in robust SD·snapshots
    trend_window: int = 48  # points in the exponential trend fit
    # coarser views of the trend, each 8x longer than the last (means of 8, 64, ... snapshots), read
    # when the last trend_window snapshots show no significant rise: a unit sending every 10 s sees
    # 8 minutes in its window, a bearing degrades over hours to months (0: the window alone)
    trend_tiers: int = 2
    iso_hysteresis: float = 0.1  # fraction below a zone boundary before the zone goes down
    stopped_ratio: float = 0.1  # RMS below this fraction of baseline = stopped
    speed_tolerance: float = 0.1  # relative speed change that counts as a transient
    rebaseline_after: int = 60  # snapshots at a new level (no trend) before re-learning
    band_recheck: int = 32  # healthy snapshots between re-choosing the envelope band (the costly part)
    band_recheck_unhealthy: int = 3  # the same while the unit is not healthy (a fault may move the band; 0: every snapshot)
    mode_hold: int = 24  # snapshots naming another fault before the unit's primary failure mode changes
    mode_memory_s: float = 86400.0  # healthy time after which the primary failure mode is forgotten
    name_wait: int = 3  # snapshots an unnamed deviation (anomaly) waits for a failure mode before watch
    max_scalar_keys: int = 16  # scalar series tracked per unit (bounded state)
    scalar_warmup_s: float = 86400.0  # commissioning of each scalar series, in its own time (a daily cycle)
    scalar_points: int = 96  # values kept to form a scalar baseline, spread over scalar_warmup_s
    max_anomaly_keys: int = 8  # of those, the first ones a unit sends are also scored by the NAB-measured detector
    axis: str = ""  # the snapshot axis the engine follows ("x", "y", "z", "h", "v"); "": the first one a unit sends
    # operating and environmental context, not health: not alarmed on (a temperature is judged
    # as its rise over ``ambient_c`` when both are sent)
    context_keys: tuple[str, ...] = ("ambient_c", "speed_rpm", "rpm", "current_a", "load_pct", "power_kw")
    # the machine's own functional-failure level, in absolute terms, as its manufacturer states it (the
    # level at which a unit is taken out of service): the peak acceleration of a snapshot (the largest
    # |sample|, g) and/or its RMS acceleration (g). Unset (None, the default): the engine's generic limits,
    # ``alarm_ratio`` x the unit's own reference and ISO zone D. Set: the stated limit alone is the alarm and
    # the limit the time to failure is counted to, the generic ones a warning (:class:`UnitMonitor`)
    failure_peak_g: float | None = None
    failure_rms_g: float | None = None

    def __post_init__(self) -> None:
        self._check_types()
        if self.warmup < 8:
            raise ValueError(f"warmup must be at least 8 snapshots, got {self.warmup}")
        if not 0 < self.watch_log10p < self.warning_log10p:
            raise ValueError(f"need 0 < watch_log10p < warning_log10p, got {self.watch_log10p}, {self.warning_log10p}")
        if self.persistence < 1:
            raise ValueError(f"persistence must be >= 1, got {self.persistence}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 1 < self.watch_ratio < self.warning_ratio < self.alarm_ratio:
            raise ValueError("need 1 < watch_ratio < warning_ratio < alarm_ratio, got "
                             f"{self.watch_ratio}, {self.warning_ratio}, {self.alarm_ratio}")
        if self.smooth < 1:
            raise ValueError(f"smooth must be >= 1, got {self.smooth}")
        if not 0 < self.stopped_ratio < 1:
            raise ValueError(f"stopped_ratio must be in (0, 1), got {self.stopped_ratio}")
        if not 0 < self.speed_tolerance < 1:
            raise ValueError(f"speed_tolerance must be in (0, 1), got {self.speed_tolerance}")
        for name in ("min_z_scale", "ph_delta", "ph_threshold", "iso_hysteresis"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.band_recheck < 1:
            raise ValueError(f"band_recheck must be >= 1 snapshot, got {self.band_recheck}")
        if self.band_recheck_unhealthy < 0:
            raise ValueError(f"band_recheck_unhealthy must be >= 0 snapshots, got {self.band_recheck_unhealthy}")
        if self.name_wait < 0:
            raise ValueError(f"name_wait must be >= 0 snapshots, got {self.name_wait}")
        if self.mode_hold < 1:
            raise ValueError(f"mode_hold must be >= 1 snapshot, got {self.mode_hold}")
        if not self.mode_memory_s > 0:
            raise ValueError(f"mode_memory_s must be > 0 seconds, got {self.mode_memory_s}")
        if not 0 <= self.trend_tiers <= 4:
            raise ValueError(f"trend_tiers must be in [0, 4], got {self.trend_tiers}")
        for name, least in (("trend_window", 8), ("rebaseline_after", 1), ("max_scalar_keys", 1),
                            ("max_anomaly_keys", 0), ("scalar_points", 8)):
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be >= {least}, got {getattr(self, name)}")
        if self.max_scalar_keys * self.scalar_points > SCALAR_POINTS_BUDGET:
            raise ValueError(f"max_scalar_keys x scalar_points must be at most {SCALAR_POINTS_BUDGET} (the scalar "
                             "baselines are kept in the unit's state, which stays under 64 KB), got "
                             f"{self.max_scalar_keys} x {self.scalar_points}")
        if self.max_anomaly_keys > MAX_ANOMALY_KEYS:
            raise ValueError(f"max_anomaly_keys must be at most {MAX_ANOMALY_KEYS} (each series scored keeps ~2 KB "
                             f"in the unit's state, which stays under 64 KB), got {self.max_anomaly_keys}")
        if self.failure_peak_g is not None and self.trend_tiers > MAX_TIERS_WITH_PEAK:
            raise ValueError(f"trend_tiers must be at most {MAX_TIERS_WITH_PEAK} with failure_peak_g set (the peak's own "
                             "trend, with as many tiers, is kept in the unit's state, which stays under 64 KB), got "
                             f"{self.trend_tiers}")
        if not self.scalar_warmup_s > 0:
            raise ValueError(f"scalar_warmup_s must be > 0 seconds, got {self.scalar_warmup_s}")
        if self.axis not in AXES:
            raise ValueError(f"axis must be one of {', '.join(AXES[1:])} (the device protocol's axes) or '' "
                             f"(the first one a unit sends), got {self.axis!r}")
        object.__setattr__(self, "context_keys", tuple(self.context_keys))

    @property
    def failure_limits(self) -> dict[str, float]:
        """The stated functional-failure limits by the snapshot feature they judge (``peak_g``, ``rms_g``);
        empty when none is set."""
        return {k: v for k, v in (("peak_g", self.failure_peak_g), ("rms_g", self.failure_rms_g)) if v is not None}

    def _check_types(self) -> None:
        """Each setting has its default's type: a whole number, a finite number, a name or a list
        of names (a plain string for ``context_keys`` would be read letter by letter). A whole
        number given as a float (``60.0``, as JSON may carry it) is taken as the integer."""
        for f in fields(self):
            value, default = getattr(self, f.name), f.default
            is_bool = isinstance(value, bool)
            if isinstance(default, int):
                if is_bool or not isinstance(value, numbers.Real) or not (math.isfinite(value)
                                                                          and float(value).is_integer()):
                    raise ValueError(f"{f.name} must be a whole number, got {value!r}")
                object.__setattr__(self, f.name, int(value))  # 60.0 and numpy's integers too: JSON-serialisable
            if isinstance(default, float) and (is_bool or not isinstance(value, numbers.Real)
                                               or not math.isfinite(value)):
                raise ValueError(f"{f.name} must be a finite number, got {value!r}")
            if isinstance(default, str) and not isinstance(value, str):
                raise ValueError(f"{f.name} must be a string, got {value!r}")
        for name in FAILURE_LIMITS:  # optional: None, or a finite number of g above 0
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number of g above 0 (or null: not set), got {value!r}")
            object.__setattr__(self, name, float(value))  # 20 and numpy's numbers too: a plain float
        keys = self.context_keys
        if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"context_keys must be a list of names, got {keys!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def check_names(cls, names: Any) -> None:
        """Raise ``ValueError`` naming any of ``names`` that is not a setting (with the nearest one)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(k) for k in names if k not in known)
        if unknown:
            near = [f"{k} (did you mean {m[0]}?)" if (m := get_close_matches(k, known, n=1)) else k or "'' (an empty name)"
                    for k in unknown]
            raise ValueError(f"unknown detector setting(s) {', '.join(near)}; known: {', '.join(known)}")

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> MonitorConfig:
        """The defaults with ``overrides`` (e.g. a model's ``detector_config``) applied, checked strictly.

        Unknown names, a fraction where a whole number is meant, text where a number is meant and
        values the settings refuse raise ``ValueError`` naming the setting (JSON carries no types,
        so nothing is coerced silently).

        >>> MonitorConfig.from_overrides({"warmup": 60}).warmup
        60
        >>> MonitorConfig.from_overrides({"warmpu": 60})
        Traceback (most recent call last):
        ...
        ValueError: unknown detector setting(s) warmpu (did you mean warmup?); known: warmup, watch_log10p, ...
        """
        cls.check_names(overrides)
        defaults = cls()
        for key, value in overrides.items():
            default = getattr(defaults, key)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if isinstance(default, int) and not (number and float(value).is_integer()):
                raise ValueError(f"{key}: expected a whole number, got {value!r}")
            if isinstance(default, float) and not number:
                raise ValueError(f"{key}: expected a number, got {value!r}")
            if isinstance(default, tuple) and not (isinstance(value, (list, tuple))
                                                   and all(isinstance(x, str) for x in value)):
                raise ValueError(f"{key}: expected a list of names, got {value!r}")
        try:
            return cls(**{k: int(v) if isinstance(getattr(defaults, k), int) else v for k, v in overrides.items()})
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
