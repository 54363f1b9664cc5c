"""Machine faults that grow to functional failure, and sensor/network faults that do not.

A machine fault has an onset and a failure time; between them its severity grows exponentially
from 0 to 1. Severity 1 is functional failure by construction: the waveform synthesis scales each
fault but lubrication loss so that the vibration velocity reaches the model's ISO zone D boundary at
severity 1 (the bearing faults also reach their largest defect impulses); lubrication loss fails
by heat: it brings the bearing to its failure temperature, its velocity only to zone B or C.

>>> f = Fault("outer_race", onset_ms=0, failure_ms=1000, growth=3.0)
>>> [round(float(f.severity(t)), 3) for t in (-5, 0, 500, 1000, 2000)]
[0.0, 0.0, 0.182, 1.0, 1.0]
>>> Fault("outer_race", onset_ms=10, failure_ms=5)
Traceback (most recent call last):
...
simulator.models.FleetError: fault: onset_ms (10) must be before failure_ms (5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.models import FleetError

__all__ = ["BEARING_FAULTS", "FAULT_KINDS", "SENSOR_FAULT_KINDS", "Fault", "SensorFault"]

BEARING_FAULTS = ("outer_race", "inner_race", "ball")
FAULT_KINDS = (*BEARING_FAULTS, "imbalance", "misalignment", "looseness", "lubrication")
# Faults of the measurement chain, not of the machine: detectors must not call them machine faults.
SENSOR_FAULT_KINDS = ("dropout", "spikes", "stuck", "saturation", "clock_skew", "duplicate", "out_of_order")


@dataclass(frozen=True)
class Fault:
    """A machine fault of ``kind`` that starts at ``onset_ms`` and fails the machine at ``failure_ms``.

    ``growth`` shapes the exponential: severity = (e^(g·u) - 1) / (e^g - 1), u the elapsed fraction.
    """

    kind: str
    onset_ms: int
    failure_ms: int
    growth: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FleetError(f"fault: unknown kind {self.kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        if not self.onset_ms < self.failure_ms:
            raise FleetError(
                f"fault: onset_ms ({self.onset_ms}) must be before failure_ms ({self.failure_ms})"
            )
        if not 0.1 <= self.growth <= 20:
            raise FleetError(f"fault: growth must be in 0.1..20, got {self.growth!r}")

    def severity(self, t_ms: float | np.ndarray) -> np.ndarray:
        """0 before onset, rising exponentially to 1 at failure, 1 after."""
        u = np.clip(
            (np.asarray(t_ms, dtype=np.float64) - self.onset_ms) / (self.failure_ms - self.onset_ms), 0, 1
        )
        return np.expm1(self.growth * u) / math.expm1(self.growth)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "onset_ms": self.onset_ms,
            "failure_ms": self.failure_ms,
            "growth": self.growth,
        }


@dataclass(frozen=True)
class SensorFault:
    """A fault of the sensor or the network during ``[start_ms, end_ms)``.

    - ``dropout``: nothing is sent.
    - ``spikes``: isolated large values in waveforms and scalars (``rate`` per snapshot, ``size_g``).
    - ``stuck``: scalars repeat the value of ``start_ms``; waveforms are a flat line.
    - ``saturation``: waveforms clipped at ``level`` × the sensor range after a gain error (``gain``;
      by default large enough that about 5 % of the samples clip).
    - ``clock_skew``: timestamps shifted by ``skew_s`` (negative: the device clock is behind).
    - ``duplicate``: every message is sent twice.
    - ``out_of_order``: every other message is held back and sent after the unit's next one of its kind.
    """

    kind: str
    start_ms: int
    end_ms: int
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in SENSOR_FAULT_KINDS:
            raise FleetError(
                f"sensor_fault: unknown kind {self.kind!r}: expected one of {', '.join(SENSOR_FAULT_KINDS)}"
            )
        if not self.start_ms < self.end_ms:
            raise FleetError(
                f"sensor_fault {self.kind}: start_ms ({self.start_ms}) must be before end_ms ({self.end_ms})"
            )
        skew = self.params.get("skew_s", 0.0)
        if self.kind == "clock_skew" and skew > 240:
            raise FleetError(
                f"sensor_fault clock_skew: skew_s {skew} s would be rejected as a future timestamp "
                "(the platform allows 300 s); use at most 240"
            )

    def active(self, t_ms: float) -> bool:
        return self.start_ms <= t_ms < self.end_ms

    def param(self, name: str, default: float) -> float:
        return float(self.params.get(name, default))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "start_ms": self.start_ms, "end_ms": self.end_ms}
        if self.params:
            out["params"] = dict(self.params)
        return out
