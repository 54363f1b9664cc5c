"""One primary failure mode per unit: the fault the monitor reports, held while it develops.

The rules that name a failure mode (:mod:`detectors.explain`, the scalar tracks, the ISO zone)
look at one snapshot or one telemetry record at a time, so a single developing fault can show
several symptoms in turn: an outer-race defect also heats the bearing (``lubrication`` from the
temperature), an imbalance also raises 2× for a while (``misalignment``) or moves the feature
vector in a way no rule names (``anomaly``). The alert service opens one alert and one ticket per
(unit, failure mode), so each extra name is an extra ticket. :class:`PrimaryMode` fuses them:

- the first named mode of an episode becomes the unit's **primary** mode;
- a more specific name **refines** it at once: ``anomaly`` → anything, ``lubrication`` → a
  vibration fault (a temperature rise with a vibration fault is evidence for that fault),
  ``bearing`` → the part (outer race, inner race, ball);
- a different specific fault replaces it only after ``hold`` consecutive snapshot assessments
  name it (hysteresis); anything else is kept as evidence of the primary mode;
- scalar-path assessments carry the primary mode;
- the primary mode is forgotten after ``memory_s`` seconds of healthy assessments.

>>> from detectors.types import Assessment
>>> pm = PrimaryMode(hold=3, memory_s=3600)
>>> pm.update(Assessment(ts=0, state="watch", failure_mode="anomaly"), snapshot=True).failure_mode
'anomaly'
>>> pm.update(Assessment(ts=1, state="warning", failure_mode="imbalance"), snapshot=True).failure_mode
'imbalance'
>>> [pm.update(Assessment(ts=2 + i, state="warning", failure_mode="misalignment"), snapshot=True).failure_mode
...  for i in range(3)]
['imbalance', 'imbalance', 'misalignment']
>>> pm.update(Assessment(ts=9, state="watch", failure_mode="lubrication"), snapshot=False).failure_mode
'misalignment'
"""

from __future__ import annotations

from typing import Any

from detectors.types import Assessment

__all__ = ["BEARING_PARTS", "PrimaryMode"]

BEARING_PARTS = frozenset({"outer_race", "inner_race", "ball"})
_GENERIC = {"anomaly": 0, "lubrication": 1, "bearing": 2}


def refines(new: str, old: str) -> bool:
    """True if ``new`` names the same trouble as ``old`` more specifically.

    >>> refines("outer_race", "bearing"), refines("imbalance", "lubrication"), refines("bearing", "ball")
    (True, True, False)
    """
    if old == "anomaly":
        return new != "anomaly"
    if old == "lubrication":
        return new not in ("anomaly", "lubrication")
    if old == "bearing":
        return new in BEARING_PARTS
    return False


class PrimaryMode:
    """The unit's primary failure mode, with hysteresis (``hold`` snapshots) and memory (``memory_s``)."""

    def __init__(self, hold: int = 24, memory_s: float = 86400.0) -> None:
        if hold < 1:
            raise ValueError(f"hold must be >= 1 snapshot, got {hold}")
        if not memory_s > 0:
            raise ValueError(f"memory_s must be > 0 seconds, got {memory_s}")
        self.hold, self.memory_s = int(hold), float(memory_s)
        self.mode: str | None = None
        self.challenger: str | None = None
        self.count = 0
        self.healthy_since: float | None = None

    def update(self, a: Assessment, *, snapshot: bool) -> Assessment:
        """Rewrite ``a.failure_mode`` to the unit's primary mode (in place) and return ``a``."""
        if a.state == "unknown":
            return a
        if a.state == "healthy":
            if self.healthy_since is None:
                self.healthy_since = a.ts
            elif self.mode is not None and a.ts - self.healthy_since >= self.memory_s:
                self.mode, self.challenger, self.count = None, None, 0
            a.failure_mode = None
            return a
        self.healthy_since = None
        seen = a.failure_mode or "anomaly"
        if self.mode is None or seen == self.mode or refines(seen, self.mode):
            self.mode, self.challenger, self.count = seen, None, 0
        elif seen not in _GENERIC or (seen == "bearing" and self.mode not in BEARING_PARTS):
            # a different specific fault: it must persist over `hold` snapshots to take over
            if snapshot:
                self.count = self.count + 1 if seen == self.challenger else 1
                self.challenger = seen
                if self.count >= self.hold:
                    self.mode, self.challenger, self.count = seen, None, 0
        if a.failure_mode != self.mode:
            a.evidence.append({"feature": "fusion", "observed_mode": seen, "primary_mode": self.mode,
                               "meaning": f"{seen} symptom read as evidence of the unit's {self.mode}"})
            a.failure_mode = self.mode
            if a.confidence is None:
                a.confidence = 0.3
        return a

    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "challenger": self.challenger, "count": self.count,
                "healthy_since": self.healthy_since, "hold": self.hold, "memory_s": self.memory_s}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PrimaryMode:
        pm = cls(state.get("hold", 24), state.get("memory_s", 86400.0))
        pm.mode, pm.challenger = state.get("mode"), state.get("challenger")
        pm.count, pm.healthy_since = int(state.get("count", 0)), state.get("healthy_since")
        return pm
