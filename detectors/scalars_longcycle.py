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

Bounded: two rings of ``cycle_history`` levels, the block being filled and the likelihood's 25 block
sums. Deterministic, and ``state_dict`` / ``from_state`` round-trip it; a ScalarAnomaly state (saved
before this existed) loads with an empty long history, and ScalarAnomaly loads this one's state (it
ignores the rest). Saved, the rings are the blocks' (lowest, highest) pairs, lowest <= highest: one of
36 pairs at 3 bits, 12 pairs to a 64-bit number (:func:`_pack_pairs`); the newest blocks, whose
levels the fine history also holds (128 of them once it is full), are not saved again but taken from
it (:func:`_history_blocks`): 800 characters of JSON, not 2 x 512, with the defaults (since
2026-11-24; the rings as saved before, each packed at ``bits`` bits, still load).

>>> import math
>>> det = LongCycleAnomaly()
>>> for t in range(4200):
...     det.learn_one({"v": math.sin(2 * math.pi * t / 1000)})
>>> ch = det._channels["v"]
>>> ch.period, round(ch.long.period * det.cycle_block, -2)  # none in the fine history; 126 blocks of 8
(0, 1000)
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

import numpy as np

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

    def state(self, bits: int, history: LevelRing, block: int) -> dict[str, Any]:
        lo, hi = self.lo.ordered(), self.hi.ordered()
        n = len(lo)
        # the newest blocks the fine history holds the levels of (the same levels: checked) are taken from it
        k = max(min(n, (len(history) - self.filled) // block), 0)
        if k > 0:
            h_lo, h_hi = _history_blocks(history, self.filled, k, block)
            if not (np.array_equal(h_lo, lo[n - k:]) and np.array_equal(h_hi, hi[n - k:])):
                k = 0
        pairs = _pack_pairs(lo[: n - k], hi[: n - k], bits)
        if pairs is None:  # (levels that are not such pairs, none the detector makes: each ring as it is)
            rings: dict[str, Any] = {"lo": pack_levels(lo, bits), "hi": pack_levels(hi, bits)}
        else:
            rings = {"pairs": pairs, "from_history": k}
        return {"n": n, **rings, "block": [self.filled, self.low, self.high],
                "blocks": self.blocks, "period": self.period,
                "phase": self.phase.state() if self.phase.gaps else None}

    def load(self, s: dict[str, Any], bits: int, history: LevelRing, block: int) -> None:
        n = s["n"]
        if not isinstance(n, int) or not 0 <= n <= self.lo.size:
            raise ValueError(f"long cycle: {n!r} blocks saved, at most {self.lo.size} kept")
        self.filled, self.low, self.high = (int(x) for x in s["block"])
        if "pairs" in s:  # (since 2026-11-24)
            k = s["from_history"]
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= n:
                raise ValueError(f"long cycle: {k!r} of {n} blocks saved as the fine history's")
            if k and k * block + self.filled > len(history):
                raise ValueError(f"long cycle: {k} blocks saved as the fine history's, which holds "
                                 f"{len(history)} levels, not {k * block + self.filled}")
            lo, hi = _unpack_pairs(s["pairs"], n - k, bits)
            if k:
                h_lo, h_hi = _history_blocks(history, self.filled, k, block)
                lo, hi = np.concatenate((lo, h_lo)), np.concatenate((hi, h_hi))
            self.lo.load(lo)
            self.hi.load(hi)
        else:
            self.lo.load(unpack_levels(s["lo"], n, bits))
            self.hi.load(unpack_levels(s["hi"], n, bits))
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
                state["channels"][name]["long"] = lc.state(self.bits, ch.history, self.cycle_block)
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
                ch.long.load(s, det.bits, ch.history, det.cycle_block)  # (the fine history loaded first)
            det._channels[name] = ch
        return det


def _history_blocks(history: LevelRing, filled: int, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and the highest level of each of the newest ``k`` complete blocks (oldest first), from the
    fine history's levels: the newest ``filled`` are the block being filled's, the ``block`` before them
    the newest complete block's, and so on."""
    levels = history.ordered()
    end = len(levels) - filled
    blocks = levels[end - k * block:end].reshape(k, block)
    return blocks.min(axis=1), blocks.max(axis=1)


@lru_cache(maxsize=8)
def _pairs_plan(bits: int) -> tuple[int, int] | None:
    """(the number of (lowest, highest) pairs of ``bits``-bit levels, how many of them a 64-bit number
    holds); None when packing them so is not shorter than the two levels apart."""
    pairs = (1 << bits) * ((1 << bits) + 1) // 2
    per_word = 0
    while pairs ** (per_word + 1) <= 1 << 64:
        per_word += 1
    return (pairs, per_word) if per_word * 2 * bits > 64 else None


def _pack_pairs(lo: np.ndarray, hi: np.ndarray, bits: int) -> str | None:
    """The blocks' (lowest, highest) levels as base64: each pair's number ``hi * (hi + 1) / 2 + lo``, as
    the digits of 64-bit little-endian numbers (the first pair the lowest digit), the last number in as
    few bytes as its digits need. None when the levels are not such pairs (a lowest above its highest, a
    level of more than ``bits`` bits) or the packing is not shorter."""
    plan = _pairs_plan(bits)
    if plan is None or len(lo) != len(hi) or (len(lo) and (np.any(lo > hi) or int(hi.max()) >> bits)):
        return None
    pairs, per_word = plan
    h = hi.astype(np.uint64)
    codes = h * (h + 1) // 2 + lo
    full = len(codes) // per_word * per_word
    words = (codes[:full].reshape(-1, per_word) * _powers(pairs, per_word)).sum(axis=1, dtype=np.uint64)
    tail = sum(int(c) * pairs ** i for i, c in enumerate(codes[full:].tolist()))
    raw = words.astype("<u8").tobytes() + tail.to_bytes(_tail_bytes(pairs, len(codes) - full), "little")
    return base64.b64encode(raw).decode("ascii")


@lru_cache(maxsize=8)
def _powers(pairs: int, per_word: int) -> np.ndarray:
    return np.array([pairs ** i for i in range(per_word)], dtype=np.uint64)


def _tail_bytes(pairs: int, count: int) -> int:
    return ((pairs ** count - 1).bit_length() + 7) // 8


def _unpack_pairs(text: Any, n: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` (lowest, highest) levels :func:`_pack_pairs` packed (raises ValueError when ``text`` is not
    such a packing)."""
    plan = _pairs_plan(bits)
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) and plan is not None else None
    except binascii.Error:
        raw = None
    if raw is not None:
        pairs, per_word = plan
        full = n // per_word
        if len(raw) == 8 * full + _tail_bytes(pairs, n - full * per_word):
            words = np.frombuffer(raw[:8 * full], dtype="<u8").astype(np.uint64)
            codes = np.empty((full, per_word), dtype=np.uint64)
            for i in range(per_word):
                codes[:, i] = words % np.uint64(pairs)
                words = words // np.uint64(pairs)
            tail = int.from_bytes(raw[8 * full:], "little")
            rest = []
            for _ in range(n - full * per_word):
                tail, c = divmod(tail, pairs)
                rest.append(c)
            codes = np.concatenate((codes.ravel(), np.array(rest, dtype=np.uint64))).astype(np.int64)
            if tail == 0 and (not len(codes) or int(codes.max()) < pairs):
                hi = ((np.sqrt(8 * codes + 1) - 1) // 2).astype(np.int64)
                hi -= hi * (hi + 1) // 2 > codes  # (the float root, exact here, checked)
                hi += (hi + 1) * (hi + 2) // 2 <= codes
                return (codes - hi * (hi + 1) // 2).astype(np.uint16), hi.astype(np.uint16)
    raise ValueError(f"long cycle: the saved pairs are not {n} blocks' (lowest, highest) {bits}-bit levels: "
                     f"{str(text)[:60]}")
