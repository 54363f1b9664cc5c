"""One unit's condition monitor: snapshots and scalar telemetry in, an :class:`Assessment` out.

This is the single entry point the live pipeline and ``foreshock evaluate`` drive. State is
per unit and serialisable (``state_dict`` / ``from_state``) so a restart does not relearn.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> mon = UnitMonitor(MachineInfo(rated_rpm=1800), warmup=10)
>>> for i in range(10):
...     _ = mon.update_snapshot(Snapshot(ts=i, fs=25600, samples=rng.normal(0, 0.1, 2560)))
>>> mon.update_snapshot(Snapshot(ts=10, fs=25600, samples=rng.normal(0, 0.1, 2560))).state
'healthy'
>>> mon.update_snapshot(Snapshot(ts=11, fs=25600, samples=rng.normal(0, 0.8, 2560))).state
'alarm'
"""

from __future__ import annotations

import numpy as np

from detectors.features import time_features
from detectors.types import Assessment, MachineInfo, Snapshot
from detectors.zscore import RobustZScore

__all__ = ["UnitMonitor"]

_WATCH, _WARNING, _ALARM = 4.0, 6.0, 10.0


class UnitMonitor:
    """Per-unit engine. Minimal version: robust z-score of RMS and kurtosis over a learnt baseline."""

    def __init__(self, machine: MachineInfo | None = None, *, warmup: int = 30) -> None:
        self.machine = machine or MachineInfo()
        self.baseline = RobustZScore(warmup=warmup)

    def update_snapshot(self, snap: Snapshot) -> Assessment:
        x = np.asarray(snap.samples, dtype=np.float64)
        if x.size < 16 or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
            return Assessment(ts=snap.ts, state="unknown", reasons=["cannot assess: empty, constant or non-finite snapshot"])
        feats = time_features(x)
        watched = {"rms_g": feats["rms_g"], "kurtosis": feats["kurtosis"]}
        if not self.baseline.ready:
            self.baseline.learn_one(watched)
            return Assessment(ts=snap.ts, state="healthy", reasons=["learning baseline"], features=feats)
        scores = self.baseline.scores(watched)
        top = max(scores, key=scores.get)
        z = scores[top]
        state = "alarm" if z >= _ALARM else "warning" if z >= _WARNING else "watch" if z >= _WATCH else "healthy"
        a = Assessment(ts=snap.ts, state=state, features=feats, scores={f"z_{k}": v for k, v in scores.items()})
        if state != "healthy":
            med, _ = self.baseline.baseline[top]
            a.failure_mode = "anomaly"
            a.reasons.append(f"{top} {watched[top]:.3g} is {z:.1f} robust SD above its baseline {med:.3g}")
            a.evidence.append({"feature": top, "value": watched[top], "baseline": med, "z": z})
        return a

    def update_scalars(self, ts: float, values: dict[str, float]) -> Assessment | None:
        return None

    def state_dict(self) -> dict:
        return {"version": 1, "baseline": self.baseline.state_dict()}

    @classmethod
    def from_state(cls, state: dict, machine: MachineInfo | None = None) -> UnitMonitor:
        mon = cls(machine)
        mon.baseline = RobustZScore.from_state(state["baseline"])
        return mon
