"""One primary failure mode per unit: the fault the monitor reports, held while it develops.

The rules that name a failure mode (:mod:`detectors.explain`, the scalar tracks, the ISO zone)
look at one snapshot or one telemetry record at a time, so a single developing fault can show
several symptoms in turn: an outer-race defect also heats the bearing (``lubrication`` from the
temperature), an imbalance also raises 2× for a while (``misalignment``) or moves the feature
vector in a way no rule names (``anomaly``). The alert service opens one alert and one ticket per
(unit, failure mode), so each extra name is an extra ticket. :class:`PrimaryMode` fuses them:

- an episode that starts at watch with no name (``anomaly``, or only ``bearing``) waits up to
  ``wait`` snapshots for a name before it is reported (as healthy, with the reason), so that
  "anomaly" is reported only when nothing can be named;
- the first mode of an episode becomes the unit's **primary** mode;
- a more specific name **refines** it at once: ``anomaly`` → anything, ``bearing`` → the part
  (outer race, inner race, ball);
- symptoms of the primary fault become evidence of it: a temperature rise (``lubrication`` from
  the scalars) or bearing noise beside a vibration fault, an unnamed deviation beside any fault,
  bearing noise beside a lubrication loss (but a lubrication loss read only from high-frequency
  vibration, on a machine whose bearing geometry is unknown, is refined to ``bearing`` once
  impulses appear: with the geometry a damaged part would show its own defect lines);
- a different fault (``imbalance`` while ``outer_race``, a vibration fault while
  ``lubrication``) replaces it only after ``hold`` consecutive snapshots name it (hysteresis);
- scalar-path assessments carry the primary mode;
- the primary mode is forgotten after ``memory_s`` seconds of healthy assessments.

>>> from detectors.types import Assessment
>>> pm = PrimaryMode(hold=3, memory_s=3600, wait=1)
>>> pm.update(Assessment(ts=0, state="watch", failure_mode="anomaly"), snapshot=True).state
'healthy'
>>> pm.update(Assessment(ts=1, state="watch", failure_mode="anomaly"), snapshot=True).failure_mode
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

from detectors.robust import finite, whole
from detectors.types import Assessment

__all__ = ["BEARING_PARTS", "PrimaryMode", "refines"]

BEARING_PARTS = frozenset({"outer_race", "inner_race", "ball"})
_VAGUE = frozenset({"anomaly", "bearing"})


def _challenges(new: str, old: str) -> bool:
    """True if ``new`` names a different fault than ``old`` (not a symptom of it)."""
    if new in ("anomaly", "lubrication"):  # no name, or heat: a symptom of any fault
        return False
    if new == "bearing":  # bearing noise goes with a damaged part and with lubrication loss
        return old not in BEARING_PARTS and old != "lubrication"
    return True


def refines(new: str, old: str) -> bool:
    """True if ``new`` names the same trouble as ``old`` more specifically.

    >>> refines("outer_race", "bearing"), refines("imbalance", "lubrication"), refines("bearing", "ball")
    (True, False, False)
    """
    if old == "anomaly":
        return new != "anomaly"
    if old == "bearing":
        return new in BEARING_PARTS
    return False


class PrimaryMode:
    """The unit's primary failure mode, with hysteresis (``hold`` snapshots) and memory (``memory_s``)."""

    def __init__(self, hold: int = 24, memory_s: float = 86400.0, wait: int = 3) -> None:
        self.hold, self.wait = whole("hold", hold, least=1), whole("wait", wait, least=0)
        self.memory_s = finite("memory_s", memory_s, above=0.0)
        self.mode: str | None = None
        self.challenger: str | None = None
        self.count = 0
        self.waited = 0
        self.suppressed = False  # the last update held back an unnamed watch
        self.parts_known = False  # bearing geometry known: a damaged part would be named
        self.heat = False  # the primary mode is lubrication named from the temperature (not from vibration)
        self.healthy_since: float | None = None

    def update(self, a: Assessment, *, snapshot: bool, from_scalars: bool | None = None) -> Assessment:
        """Rewrite ``a.failure_mode`` to the unit's primary mode (in place) and return ``a``.

        ``snapshot``: the assessment judged a waveform (only those count towards ``hold``);
        ``from_scalars``: its mode was named by scalar telemetry (default: ``not snapshot``).
        """
        scalar = (not snapshot) if from_scalars is None else from_scalars
        self.suppressed = False
        if a.state == "unknown":
            return a
        if a.state == "healthy":
            if snapshot:  # (scalar telemetry between two waiting snapshots carries their healthy state)
                self.waited = 0
            if self.healthy_since is None:
                self.healthy_since = a.ts
            elif self.mode is not None and a.ts - self.healthy_since >= self.memory_s:
                self.mode, self.challenger, self.count, self.heat = None, None, 0, False
            a.failure_mode = None
            return a
        seen = a.failure_mode or "anomaly"
        if self.mode is None and seen in _VAGUE and a.state == "watch" and snapshot and self.waited < self.wait:
            # a new episode that nothing names yet: wait a few snapshots for a name before watching
            self.waited += 1
            self.suppressed = True
            a.reasons.append(f"deviation not named yet ({seen}): waiting {self.waited}/{self.wait} snapshots "
                             "for a failure mode before raising watch")
            a.state, a.failure_mode = "healthy", None
            return a
        self.healthy_since = None
        # lubrication read from vibration (high-frequency noise, no impulses) is refined by impulses
        # (``bearing``); lubrication read from the temperature is not: friction noise goes with it
        # (without geometry: with it, a damaged part shows its own defect lines)
        vib_lube = self.mode == "lubrication" and not self.heat and seen == "bearing" and not self.parts_known
        if self.mode is None or seen == self.mode or refines(seen, self.mode) or vib_lube:
            if seen != self.mode:
                self.heat = seen == "lubrication" and scalar
                self.mode, self.challenger, self.count = seen, None, 0
            elif snapshot:
                # a waveform naming the primary mode breaks a challenger's run; scalar telemetry, which
                # arrives between snapshots and carries the primary mode, does not
                self.challenger, self.count = None, 0
        elif _challenges(seen, self.mode) and snapshot:
            # a different fault must be named on `hold` consecutive snapshots to take over
            self.count = self.count + 1 if seen == self.challenger else 1
            self.challenger = seen
            if self.count >= self.hold:
                self.mode, self.challenger, self.count, self.heat = seen, None, 0, False
        if a.failure_mode != self.mode:
            a.evidence.append({"feature": "fusion", "observed_mode": seen, "primary_mode": self.mode,
                               "meaning": f"{seen} symptom read as evidence of the unit's {self.mode}"})
            a.failure_mode = self.mode
            if a.confidence is None:
                a.confidence = 0.3
        return a

    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "challenger": self.challenger, "count": self.count, "waited": self.waited,
                "healthy_since": self.healthy_since, "hold": self.hold, "memory_s": self.memory_s, "wait": self.wait, "heat": self.heat}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PrimaryMode:
        pm = cls(state.get("hold", 24), state.get("memory_s", 86400.0), state.get("wait", 3))
        pm.waited, pm.heat = int(state.get("waited", 0)), bool(state.get("heat", False))
        pm.mode, pm.challenger = state.get("mode"), state.get("challenger")
        pm.count, pm.healthy_since = int(state.get("count", 0)), state.get("healthy_since")
        return pm
