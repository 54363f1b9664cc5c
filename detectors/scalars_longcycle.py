"""The NAB scalar detector with a phase novelty for cycles longer than its own phase history sees.

:class:`detectors.scalar.ScalarAnomaly` finds a cycle in its last ``seasonal_history`` (1,024) levels
among the lags that fit three times there: 341 values at most. A day of values a minute (1,440), or a
week of values every 5 minutes (2,016), is longer, so a day whose shape breaks the cycle while its
values stay in range is not seen. :class:`LongCycleAnomaly` keeps the same kind of history at a
coarser step: per block of ``cycle_block`` values, the lowest and the highest level of the block, for
the last ``cycle_history`` blocks (8 x 1,024 = 8,192 values: cycles of up to 2,730 values). Its period
is found as ScalarAnomaly's (the highest autocorrelation peak of the blocks, r >= ``seasonal_min_r``,
fitting ``seasonal_periods`` + 1 times) and counts only when it is longer than what the fine history
can hold (a cycle both see stays the fine history's). A value's surprise is how many levels it lies
outside the [lowest, highest] levels of the blocks at the same phase (give or take
``seasonal_tolerance`` of a period, at least one block) one and ``seasonal_periods`` periods back; it
has its own anomaly likelihood (as the fine phase's, in whole numbers), scored once that holds
``warmup`` sums, and the score is the larger of it and ScalarAnomaly's. An alert of either starts the
rest period (one event, one alert).

Bounded: two rings of ``cycle_history`` levels (packed at ``bits`` bits: 2 x 512 characters of JSON
with the defaults), the block being filled and the likelihood's 25 block sums. Deterministic, and
``state_dict`` / ``from_state`` round-trip it; a ScalarAnomaly state (saved before this existed)
loads with an empty long history, and ScalarAnomaly loads this one's state (it ignores the rest).

>>> import math
>>> det = LongCycleAnomaly()
>>> for t in range(4200):
...     det.learn_one({"v": math.sin(2 * math.pi * t / 1000)})
>>> ch = det._channels["v"]
>>> ch.period, round(ch.long.period * det.cycle_block, -2)  # none in the fine history; 126 blocks of 8
(0, 1000)
"""

from __future__ import annotations

from typing import Any

from detectors.periodic import MIN_PERIOD, LevelRing, estimate_period, pack_levels, unpack_levels
from detectors.scalar import ScalarAnomaly, _Channel, _GapLikelihood

__all__ = ["LongCycleAnomaly"]


class _LongCycle:
    """One named value's coarse history: per block, its lowest and highest level."""

    def __init__(self, det: LongCycleAnomaly) -> None:
        self.lo = LevelRing(det.cycle_history)
        self.hi = LevelRing(det.cycle_history)
        self.filled = 0  # values in the block being filled
        self.low = 0
        self.high = 0
        self.blocks = 0  # complete blocks seen (the period is estimated again every seasonal_every)
        self.period = 0  # in blocks; 0: no long cycle found
        self.phase = _GapLikelihood(det)

    def gap(self, level: int, tolerance: float, periods: int) -> int | None:
        """How many levels ``level`` lies outside the blocks' [lowest, highest] at this phase, one to
        ``periods`` periods back; None without a long cycle."""
        p = self.period
        if not p:
            return None
        lo, hi = self.lo.buf, self.hi.buf
        size, nxt, n = self.lo.size, self.lo.next, len(self.lo)
        d = max(1, round(tolerance * p))
        best = None
        for k in range(1, periods + 1):
            if k * p + d > n or k * p - d < 1:  # back 1 is the newest complete block; the current one is 0
                break
            for back in range(k * p - d, k * p + d + 1):
                i = (nxt - back) % size
                g = lo[i] - level if level < lo[i] else (level - hi[i] if level > hi[i] else 0)
                if best is None or g < best:
                    best = g
        return best

    def add(self, level: int, det: LongCycleAnomaly) -> None:
        if self.filled == 0:
            self.low = self.high = level
        else:
            self.low, self.high = min(self.low, level), max(self.high, level)
        self.filled += 1
        if self.filled < det.cycle_block:
            return
        self.lo.append(self.low)
        self.hi.append(self.high)
        self.filled = 0
        self.blocks += 1
        if self.blocks % det.seasonal_every == 0 and len(self.lo) >= 4 * MIN_PERIOD:
            span = self.lo.ordered().astype(float) + self.hi.ordered()
            p = estimate_period(span, det.seasonal_min_r, det.seasonal_periods + 1)
            self.period = p if p * det.cycle_block > det.fine_reach else 0

    def state(self, bits: int) -> dict[str, Any]:
        return {"n": len(self.lo), "lo": pack_levels(self.lo.ordered(), bits),
                "hi": pack_levels(self.hi.ordered(), bits), "block": [self.filled, self.low, self.high],
                "blocks": self.blocks, "period": self.period,
                "phase": self.phase.state() if self.phase.gaps else None}

    def load(self, s: dict[str, Any], bits: int) -> None:
        n = s["n"]
        if not isinstance(n, int) or not 0 <= n <= self.lo.size:
            raise ValueError(f"long cycle: {n!r} blocks saved, at most {self.lo.size} kept")
        self.lo.load(unpack_levels(s["lo"], n, bits))
        self.hi.load(unpack_levels(s["hi"], n, bits))
        self.filled, self.low, self.high = (int(x) for x in s["block"])
        self.blocks, self.period = int(s["blocks"]), int(s["period"])
        if s["phase"] is not None:
            self.phase.load(s["phase"])


class LongCycleAnomaly(ScalarAnomaly):
    """:class:`ScalarAnomaly` plus the phase novelty of cycles longer than its history sees."""

    def __init__(self, *, cycle_block: int = 8, cycle_history: int = 1024, **kw: Any) -> None:
        super().__init__(**kw)
        if not isinstance(cycle_block, int) or isinstance(cycle_block, bool) or cycle_block < 2:
            raise ValueError(f"cycle_block must be an integer >= 2, got {cycle_block!r}")
        if not isinstance(cycle_history, int) or isinstance(cycle_history, bool) or (
                cycle_history != 0 and cycle_history < 4 * MIN_PERIOD):
            raise ValueError(f"cycle_history must be 0 (off) or an integer >= {4 * MIN_PERIOD}, "
                             f"got {cycle_history!r}")
        self.cycle_block = cycle_block
        self.cycle_history = cycle_history
        # the longest cycle the fine history finds (0: it finds none)
        self.fine_reach = self.seasonal_history // (self.seasonal_periods + 1)

    def _long(self, ch: _Channel) -> _LongCycle:
        lc = getattr(ch, "long", None)
        if lc is None:
            lc = ch.long = _LongCycle(self)
        return lc

    def _step(self, ch: _Channel, v: float, *, commit: bool) -> float:
        resting = ch.rest_left > 0
        score = super()._step(ch, v, commit=commit)
        lc = getattr(ch, "long", None)
        if lc is None or not lc.period:  # (most values: no long cycle)
            return score
        # (the range the level is read in changes only as a value is learnt: as ScalarAnomaly's _step read it)
        gap = lc.gap(self._level(ch, v), self.seasonal_tolerance, self.seasonal_periods)
        if gap is None:
            return score
        total = lc.phase.moving_sum(gap)
        long_score = 0.0
        if total is not None and ch.n >= self.warmup:
            long_score = lc.phase.score(total, self.warmup) or 0.0
        if commit:
            lc.phase.commit(gap, total)
            if long_score >= self.alert_level:
                ch.rest_left = self.rest  # (as ScalarAnomaly's own alerts: one event, one alert)
        return score if resting else max(score, long_score)

    def _learn(self, ch: _Channel, v: float) -> None:
        super()._learn(ch, v)
        if self.cycle_history:
            self._long(ch).add(ch.levels[-1], self)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["long_cycle"] = {"cycle_block": self.cycle_block, "cycle_history": self.cycle_history}
        for name, ch in self._channels.items():
            lc = getattr(ch, "long", None)
            if lc is not None:
                state["channels"][name]["long"] = lc.state(self.bits)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LongCycleAnomaly:
        """A detector restored from :meth:`state_dict`, or from a :class:`ScalarAnomaly` state (whose
        long history then starts empty)."""
        base = ScalarAnomaly.from_state(state)
        det = cls(**state["params"], **state.get("long_cycle", {}))
        for name, ch in base._channels.items():
            s = state["channels"][name].get("long")
            if s is not None:
                ch.long = _LongCycle(det)
                ch.long.load(s, det.bits)
            det._channels[name] = ch
        return det
