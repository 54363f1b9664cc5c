"""The value types that cross the boundary of :mod:`detectors`.

Everything the live pipeline and ``foreshock evaluate`` hand to the detectors, and everything
they get back, is one of these. They are plain data: no I/O, JSON-serialisable via ``to_dict``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from detectors.robust import dot

__all__ = ["FAILURE_MODES", "MAX_G", "Assessment", "BearingGeometry", "HealthState", "MachineInfo", "Snapshot",
           "snapshot_problem"]

HealthState = Literal["healthy", "watch", "warning", "alarm", "unknown"]
HEALTH_ORDER: dict[str, int] = {"unknown": -1, "healthy": 0, "watch": 1, "warning": 2, "alarm": 3}

# Names as in the datasets' sidecars, plus the machine faults and 'bearing' (geometry unknown).
FAILURE_MODES = (
    "outer_race", "inner_race", "ball", "cage", "bearing",
    "imbalance", "misalignment", "looseness", "lubrication", "anomaly",
)


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry; diameters in any one unit (mm or inches)."""

    n_balls: int
    ball_d: float
    pitch_d: float
    contact_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in ("n_balls", "ball_d", "pitch_d", "contact_deg"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"bearing {name} must be a finite number, got {v!r}")
        if not float(self.n_balls).is_integer():
            raise ValueError(f"n_balls must be a whole number, got {self.n_balls}")
        if self.n_balls < 3:
            raise ValueError(f"n_balls must be at least 3, got {self.n_balls}")
        if not 0 < self.ball_d < self.pitch_d:
            raise ValueError(f"need 0 < ball_d < pitch_d, got ball_d={self.ball_d}, pitch_d={self.pitch_d}")
        if not 0 <= self.contact_deg < 90:
            raise ValueError(f"contact_deg must be in [0, 90), got {self.contact_deg}")

    def multipliers(self) -> dict[str, float]:
        """Defect frequencies as multiples of shaft speed (outer race fixed, inner race rotating).

        >>> m = BearingGeometry(9, 0.3126, 1.537).multipliers()   # SKF 6205, CWRU drive end
        >>> round(m["bpfo"], 3), round(m["bpfi"], 3)
        (3.585, 5.415)
        """
        r = self.ball_d / self.pitch_d * math.cos(math.radians(self.contact_deg))
        n = self.n_balls
        return {
            "bpfo": n / 2 * (1 - r),
            "bpfi": n / 2 * (1 + r),
            "bsf": self.pitch_d / (2 * self.ball_d) * (1 - r * r),
            "ftf": 0.5 * (1 - r),
        }


@dataclass(frozen=True)
class MachineInfo:
    """What the detectors know of a unit's model."""

    rated_rpm: float | None = None
    bearing: BearingGeometry | None = None
    iso_group: int = 2  # ISO 20816-3 machine group 1..4 (group 2: 15-300 kW, the common case)
    foundation: Literal["rigid", "flexible"] = "rigid"
    zone_limits_mm_s: tuple[float, float, float] | None = None  # A/B, B/C, C/D; None = ISO table

    def __post_init__(self) -> None:
        rpm = self.rated_rpm
        if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, numbers.Real)
                                or not (math.isfinite(rpm) and rpm > 0)):
            raise ValueError(f"rated_rpm must be a positive number or None (not known), got {rpm!r}")
        if self.bearing is not None and not isinstance(self.bearing, BearingGeometry):
            raise ValueError(f"bearing must be a BearingGeometry or None, got {self.bearing!r}")

    @property
    def low_speed(self) -> bool:
        return self.rated_rpm is not None and self.rated_rpm < 600


@dataclass(frozen=True)
class Snapshot:
    """One waveform snapshot: acceleration in g, ``ts`` in seconds (epoch or a run's own clock)."""

    ts: float
    fs: float
    samples: np.ndarray = field(repr=False)
    rpm: float | None = None
    axis: str = "x"


MAX_G = 1e5  # larger "accelerations" are corrupt data, not vibration


def snapshot_problem(snapshot: Snapshot, min_samples: int = 256, max_g: float = MAX_G) -> str | None:
    """Why ``snapshot`` cannot be measured, in a few words, or None when it can.

    Checked in order: samples that are not a one-dimensional array of numbers, a sample rate that
    is not a positive number, a speed that is not a non-negative number, fewer than
    ``min_samples`` samples, NaN or infinite samples, samples beyond ``max_g`` (any accelerometer).

    >>> snapshot_problem(Snapshot(0, 0.0, np.zeros(300)))
    'sample rate 0.0 is not a positive number'
    >>> snapshot_problem(Snapshot(0, 25600, np.ones(300), rpm=1800)) is None
    True
    """
    return checked_samples(snapshot, min_samples, max_g)[0]


class Samples:
    """A snapshot's samples as float64 (``x``) and the reductions of them that several detectors read,
    each computed once per snapshot: ``magnitude`` (``|x|``), ``peak`` (its maximum), ``total``
    (``np.add.reduce(x)``, the sum ``x.sum()`` and ``x.mean()`` are made of), ``sumsq`` (``x · x``),
    ``hi`` and ``lo`` (``x.max()``, ``x.min()``); the same numbers, bit for bit, as each computation
    they replace (``tests/detectors/test_cost_identity.py``)."""

    __slots__ = ("hi", "lo", "magnitude", "peak", "sumsq", "total", "x")

    def __init__(self, x: np.ndarray, magnitude: np.ndarray, peak: float) -> None:
        self.x, self.magnitude, self.peak = x, magnitude, peak
        self.total = np.add.reduce(x)
        self.sumsq = dot(x, x)
        self.hi, self.lo = float(np.maximum.reduce(x)), float(np.minimum.reduce(x))


def checked_samples(snapshot: Snapshot, min_samples: int = 256, max_g: float = MAX_G
                    ) -> tuple[str | None, np.ndarray | None, np.ndarray | None, float]:
    """:func:`snapshot_problem`, and what it reads on the way: ``(problem or None, the samples as
    float64, their magnitudes |x|, the largest magnitude)`` (the last three None, None, NaN when the
    check stopped before reading the samples' values)."""
    try:
        raw = np.asarray(snapshot.samples)
    except (TypeError, ValueError) as exc:  # e.g. rows of different lengths
        return f"samples are not an array of numbers ({exc})", None, None, math.nan
    if raw.dtype.kind not in "biuf":
        return f"samples are not numbers (dtype {raw.dtype})", None, None, math.nan
    if raw.ndim != 1:
        return f"samples must be one-dimensional, got shape {raw.shape}", None, None, math.nan
    fs, rpm = snapshot.fs, snapshot.rpm
    try:
        fs_ok = not isinstance(fs, bool) and math.isfinite(float(fs)) and float(fs) > 0
    except (TypeError, ValueError):
        fs_ok = False
    if not fs_ok:
        return f"sample rate {fs!r} is not a positive number", None, None, math.nan
    if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, numbers.Real)
                            or not (math.isfinite(rpm) and rpm >= 0)):
        return f"speed {rpm!r} rpm is not a non-negative number", None, None, math.nan
    if raw.size < min_samples:
        return f"{raw.size} samples, at least {min_samples} are needed", None, None, math.nan
    x = raw.astype(np.float64)
    magnitude = np.abs(x)
    peak = float(np.maximum.reduce(magnitude))  # (NaN when a sample is NaN, inf when one is infinite)
    if not math.isfinite(peak):
        bad = int(np.count_nonzero(~np.isfinite(raw))) if raw.dtype.kind == "f" else 0
        if bad:
            return f"{bad} NaN or infinite samples", x, magnitude, peak
    if peak > max_g:
        return f"samples reach {peak:.3g} g, beyond any accelerometer ({max_g:g} g)", x, magnitude, peak
    return None, x, magnitude, peak


@dataclass
class Assessment:
    """What the detectors conclude about one unit after one observation."""

    ts: float
    state: HealthState
    reasons: list[str] = field(default_factory=list)
    failure_mode: str | None = None
    confidence: float | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    ttf_s: float | None = None  # estimated time to functional failure
    ttf_low_s: float | None = None
    ttf_high_s: float | None = None
    features: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    sensor_fault: str | None = None  # 'dropout', 'spikes', 'stuck', 'saturation' when recognised

    @property
    def severity(self) -> int:
        return HEALTH_ORDER[self.state]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
