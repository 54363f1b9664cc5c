"""What judges a unit while its baseline is being learnt: the evidence that needs no baseline.

A unit's adaptive detectors (:class:`detectors.UnitMonitor`) compare each snapshot with the unit's
own commissioning baseline, so they cannot judge the commissioning itself; the ISO zones can, but
they are reached only at the end of a fault's life. A fault that is already there when a unit is
commissioned, or starts during it, used to be learnt as the unit's normal and go unwarned (a
simulated fleet whose faults begin in the first hours: 8 of 49 failures without any alert).
:class:`CommissioningCheck` judges each commissioning snapshot on two things that need no baseline:

- **defect lines against the spectrum's own floor**: the baseline-free diagnosis
  (:func:`detectors.diagnose`, the one scored on CWRU) names the same bearing part, with its family
  at least ``family_db`` above the envelope background, on ``persistence`` consecutive snapshots →
  warning (a healthy machine's strongest family stays under that on three snapshots in a row);
- **growth within commissioning**: the health indicator (the running median of ``smooth`` RMS
  values) over its lowest settled level since commissioning began: ``watch_ratio`` → watch;
  ``warning_ratio`` (``alarm_ratio``) → warning (alarm) only while it keeps *rising* (a significant
  exponential trend since it first reached ``watch_ratio``): a level step that then stays flat is an
  operating change, as after commissioning (watch at most).

The level comes down only after ``persistence`` calmer snapshots. The monitor does not learn the
snapshots judged warning or worse: a developing fault is not the unit's normal.

**Accepted lines** (:meth:`CommissioningCheck.accept`, a relearn asked with ``--accept-current``: a person
has judged the lines the unit shows now to be its normal, e.g. a frame resonance near a defect
frequency): the level of each family is taken as the median of its scores over the next
``persistence`` snapshots (the window a line is confirmed on), and from then on a family warns only
``family_db`` above its accepted level (above ``family_db`` over the background for a family accepted
below the background). A line that then grows warns again; the growth check is not changed.

>>> chk = CommissioningCheck(persistence=3)
>>> chk.accept()
>>> line = lambda db: ("outer_race", 0.9, [{"family": "summary", "scores": {"bpfo": db, "bpfi": 0.0, "bsf": 0.0}}])
>>> [chk.update(600.0 * i, 0.1, line(db)).level for i, db in enumerate([10, 9, 11, 10, 15, 9.5])]
[0, 0, 0, 0, 0, 0]
>>> chk.accepted
{'bpfo': 10.0, 'bpfi': 0.0, 'bsf': 0.0}
>>> [chk.update(600.0 * i, 0.1, line(18.0)).level for i in range(6, 9)]
[0, 0, 2]

>>> chk = CommissioningCheck(smooth=1, persistence=3)
>>> [chk.update(60.0 * i, 0.1, None).level for i in range(3)]
[0, 0, 0]
>>> [chk.update(60.0 * i, 0.1 * 1.5 ** (i - 2), None).level for i in range(3, 8)]
[0, 1, 1, 2, 2]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from detectors.fusion import BEARING_PARTS
from detectors.prognosis import ExpTrend
from detectors.robust import finite, whole

__all__ = ["CommissioningCheck", "Finding"]

_FAMILY = {"outer_race": "bpfo", "inner_race": "bpfi", "ball": "bsf"}


@dataclass
class Finding:
    """One commissioning snapshot's conclusion: level 0..3 (healthy .. alarm), why, and the name."""

    level: int = 0
    reasons: list[str] = field(default_factory=list)
    mode: str | None = None
    confidence: float | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)


def family_scores(evidence: list[dict[str, Any]]) -> dict[str, float]:
    """Every family's score (dB above the envelope background) in a diagnosis' evidence (0 when it names none)."""
    for e in evidence:
        if e.get("family") == "summary" and isinstance(e.get("scores"), dict):
            return {fam: float(e["scores"].get(fam, 0.0)) for fam in _FAMILY.values()}
    return {fam: 0.0 for fam in _FAMILY.values()}


def family_score(evidence: list[dict[str, Any]], mode: str | None) -> float:
    """The score (dB above the envelope background) of ``mode``'s family in a diagnosis' evidence."""
    fam = _FAMILY.get(mode or "")
    for e in evidence:
        if e.get("family") == "summary" and isinstance(e.get("scores"), dict):
            return float(e["scores"].get(fam, 0.0))
    return 0.0


class CommissioningCheck:
    """Baseline-free judgement of a commissioning (see the module docstring)."""

    def __init__(self, *, smooth: int = 5, persistence: int = 3, watch_ratio: float = 1.6,
                 warning_ratio: float = 2.5, alarm_ratio: float = 10.0, family_db: float = 6.0,
                 trend_window: int = 48) -> None:
        self.smooth = whole("smooth", smooth, least=1)
        self.persistence = whole("persistence", persistence, least=1)
        self.watch_ratio = finite("watch_ratio", watch_ratio, above=1.0)
        self.warning_ratio = finite("warning_ratio", warning_ratio, above=self.watch_ratio)
        self.alarm_ratio = finite("alarm_ratio", alarm_ratio, above=self.warning_ratio)
        self.family_db = finite("family_db", family_db, least=0.0)
        self.trend_window = whole("trend_window", trend_window, least=8)
        # lines a person accepted as the unit's normal (accept()): per family, the level accepted (dB above the
        # background); None: nothing accepted. accept_seen: the scores of the snapshots the level is taken from,
        # while it is being taken (at most `persistence`)
        self.accepted: dict[str, float] | None = None
        self.accept_seen: list[dict[str, float]] | None = None
        self._reset()

    def accept(self) -> None:
        """Accept the defect lines the unit shows now as its normal: their level is taken from the next
        ``persistence`` snapshots, and a family warns again only ``family_db`` above it."""
        self.accepted, self.accept_seen = {}, []

    def carry_accepted(self, other: CommissioningCheck) -> None:
        """Keep what ``other`` (the check this one replaces: a new commissioning) accepted."""
        self.accepted = None if other.accepted is None else dict(other.accepted)
        self.accept_seen = None if other.accept_seen is None else [dict(s) for s in other.accept_seen]

    def _threshold(self, mode: str | None) -> float:
        """The family score at which ``mode``'s lines count: ``family_db``, above the accepted level if any."""
        fam = _FAMILY.get(mode or "")
        if self.accepted is None or fam is None:
            return self.family_db
        return self.family_db + max(0.0, self.accepted.get(fam, 0.0))

    def _take_accepted(self, evidence: list[dict[str, Any]]) -> None:
        """While the accepted level is being taken: fold this snapshot's scores into it (the median)."""
        if self.accept_seen is None:
            return
        self.accept_seen.append(family_scores(evidence))
        self.accepted = {fam: float(statistics.median(s[fam] for s in self.accept_seen)) for fam in _FAMILY.values()}
        if len(self.accept_seen) >= self.persistence:
            self.accept_seen = None

    def close(self) -> None:
        """The commissioning is over (its baseline learnt): its growth trend is read no more (a commissioning
        after it, a relearn, a new operating point, has a check of its own) and its points leave the state
        (48 of them: 1 KB of a unit's state). What was accepted stays, for that check."""
        self.trend = ExpTrend(self.trend_window, min_points=self.trend.min_points)

    def _reset(self) -> None:
        self.hi_buf: list[float] = []
        self.ref: float | None = None  # lowest settled health indicator since commissioning began
        self.since: float | None = None  # when the indicator first reached watch_ratio (this episode)
        # the trend test needs `persistence` points (3 at least) since the indicator reached watch
        self.trend = ExpTrend(self.trend_window, min_points=min(max(3, self.persistence), self.trend_window))
        self.part: str | None = None  # the bearing part the diagnosis names, and on how many snapshots in a row
        self.part_n = 0
        self.confirmed: str | None = None  # the part the lines were confirmed for, until the level is back to 0
        self.level = 0
        self.calm = 0

    def update(self, ts: float, rms_g: float, diagnosis: tuple[str | None, float, list[dict[str, Any]]] | None
               ) -> Finding:
        """Judge one commissioning snapshot: its time, RMS (g) and baseline-free diagnosis (or None)."""
        f = Finding()
        mode, conf, ev = diagnosis if diagnosis is not None else (None, 0.0, [])
        score = family_score(ev, mode)
        self._take_accepted(ev)
        if mode in BEARING_PARTS and score >= self._threshold(mode):
            self.part_n = self.part_n + 1 if mode == self.part else 1
            self.part = mode
        else:
            self.part, self.part_n = None, 0
        if self.part_n >= self.persistence:
            self.confirmed = mode
        # once confirmed, the part named again is a warning at once: a snapshot that misses the lines
        # (the first after a start, a noisy one) is a calmer snapshot, not a new episode
        if self.part_n >= self.persistence or (self.part_n and mode == self.confirmed):
            f.level = 2
            f.reasons.append(f"{_FAMILY.get(mode or '', '').upper()} defect lines stand {score:.1f} dB above the envelope "
                             f"spectrum's own background (no baseline needed; confirmed on {self.persistence} snapshots in a row)"
                             + self._over_accepted(mode, score))
            f.mode, f.confidence, f.evidence = mode, conf, list(ev)
        self._growth(ts, rms_g, f)
        if f.level >= 1 and f.mode is None:
            # named by the same baseline-free diagnosis, else a deviation without a name; a bearing part only
            # when its lines stand out as far as the lines' own rule asks (``family_db``): a broadband rise (a
            # lubrication loss) carries chance lines 2-5 dB above the background, and the first name sticks
            named = mode is not None and (mode not in BEARING_PARTS or score >= self._threshold(mode))
            f.mode, f.confidence, f.evidence = (mode, conf, list(ev)) if named else ("anomaly", 0.3, [])
        if f.level < self.level:  # come down only after `persistence` calmer snapshots (no flapping)
            self.calm += 1
            if self.calm < self.persistence:
                f.level = self.level
                f.reasons.append(f"holding level {f.level} until {self.persistence} calmer snapshots")
            else:
                self.calm = 0
        else:
            self.calm = 0
        self.level = f.level
        if f.level == 0:
            self.confirmed = None
        return f

    def _over_accepted(self, mode: str | None, score: float) -> str:
        fam = _FAMILY.get(mode or "")
        if self.accepted is None or fam is None:
            return ""
        level = self.accepted.get(fam, 0.0)
        return f", {score - level:.1f} dB above the {level:.1f} dB accepted as this unit's normal at its relearn"

    def _growth(self, ts: float, rms_g: float, f: Finding) -> None:
        self.trend.update(ts, rms_g)
        self.hi_buf = (self.hi_buf + [rms_g])[-self.smooth:]
        hi = statistics.median(self.hi_buf)
        if len(self.hi_buf) == self.smooth:
            self.ref = hi if self.ref is None else min(self.ref, hi)
        ref = self.ref or hi
        ratio = hi / ref
        if ratio < self.watch_ratio:
            self.since = None
            return
        if self.since is None:
            self.since = ts
        rising = self.trend.time_to(ref * self.alarm_ratio, since=self.since) is not None
        said = f"RMS {hi:.3g} g is {ratio:.1f}x its level at the start of commissioning ({ref:.3g} g)"
        if ratio >= self.warning_ratio and rising:
            f.level = max(f.level, 3 if ratio >= self.alarm_ratio else 2)
            f.reasons.insert(0, said + " and rising: a fault developing while the baseline is learnt")
        else:
            f.level = max(f.level, 1)
            f.reasons.append(said + ("" if ratio < self.warning_ratio else
                                     ", not (yet) rising: a level step that stays is an operating change"))

    def state_dict(self) -> dict[str, Any]:
        return {"hi_buf": list(self.hi_buf), "ref": self.ref, "since": self.since, "trend": self.trend.state_dict(),
                "part": self.part, "part_n": self.part_n, "confirmed": self.confirmed, "level": self.level,
                "calm": self.calm, "accepted": self.accepted, "accept_seen": self.accept_seen}

    def load(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (raises ValueError, KeyError or TypeError on a bad one)."""
        if not isinstance(state, dict):
            raise ValueError(f"commissioning must be a dict, got {state!r}")
        hi_buf = [finite("commissioning.hi_buf", v) for v in state["hi_buf"]]
        ref, since = state["ref"], state["since"]
        self.ref = None if ref is None else finite("commissioning.ref", ref, above=0.0)
        self.since = None if since is None else finite("commissioning.since", since)
        part, confirmed = state["part"], state["confirmed"]
        for key, v in (("part", part), ("confirmed", confirmed)):
            if v is not None and v not in BEARING_PARTS:
                raise ValueError(f"commissioning.{key} must be a bearing part or null, got {v!r}")
        self.hi_buf, self.part, self.confirmed = hi_buf[-self.smooth:], part, confirmed
        self.trend = ExpTrend.from_state(state["trend"])
        self.part_n = whole("commissioning.part_n", state["part_n"], least=0)
        self.level = whole("commissioning.level", state["level"], least=0)
        self.calm = whole("commissioning.calm", state["calm"], least=0)
        # not in states saved before lines could be accepted: nothing accepted
        accepted, seen = state.get("accepted"), state.get("accept_seen")
        self.accepted = None if accepted is None else _levels("commissioning.accepted", accepted)
        if seen is not None and not isinstance(seen, list):
            raise ValueError(f"commissioning.accept_seen must be a list or null, got {seen!r}")
        self.accept_seen = None if seen is None else [_levels("commissioning.accept_seen", s) for s in seen]


def _levels(key: str, d: Any) -> dict[str, float]:
    """A saved ``{family: dB}``: the families known, finite numbers."""
    if not isinstance(d, dict) or not set(d) <= set(_FAMILY.values()):
        raise ValueError(f"{key} must map {', '.join(_FAMILY.values())} to dB, got {d!r}")
    return {fam: finite(key, v) for fam, v in d.items()}
