"""A streaming anomaly detector for plain scalar telemetry (temperature, current, pressure, ...).

It follows river's protocol: ``score_one(x)`` then ``learn_one(x)`` for each observation, ``x`` a dict
of named numeric values; the score is in ``[0, 1]``, higher = more anomalous (the maximum over the
names). Per name, three ideas from the best detectors of the Numenta Anomaly Benchmark:

- **context novelty** (as CAD OSE): the value is quantised into ``2**bits`` levels over the range
  seen so far, and the transition *last ``context`` levels -> this level* is looked up in a table of
  transitions seen before; surprise is ``1 - P(level | context)`` (1 for a transition never seen);
- **anomaly likelihood** (as Numenta HTM): the ``short``-step moving average of surprise is compared
  with the distribution of that average over the last ``long`` steps (kept as the sums of 25
  blocks of ``long / 25`` steps: the window slides by a block, and the state stays small), and its
  Gaussian tail is log-scaled, so a series that is always a little surprising stays quiet;
- **spatial anomaly** (as Numenta HTM): a value beyond the range seen so far by more than
  ``tolerance`` of that range scores 1;

and after a score of ``alert_level`` or more the next ``rest`` scores are 0 (as CAD OSE): one event,
one alert. Nothing is scored before ``warmup`` observations.

Memory is bounded (at most ``max_contexts`` table entries per name, fixed windows: about 2 KB of
JSON per name), there is no randomness, and ``state_dict`` / ``from_state`` round-trip the state through JSON-able data.

>>> det = ScalarAnomaly()
>>> scores = []
>>> for i in range(1200):
...     x = {"temp": 20.0 + (i % 24) * 0.1 + (8.0 if i == 1000 else 0.0)}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[300:1000]) < 0.5, scores[1000]
(True, 1.0)
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

__all__ = ["ScalarAnomaly"]

_LOG_TAIL = math.log(1.0 - 0.99999)  # HTM: a tail probability of 1e-5 scores 1.0
_MIN_STD = 0.03  # floor of the spread of averaged surprise, so a silent series is not hair-triggered


_BLOCKS = 25  # the likelihood's history is kept as this many block sums


class _Channel:
    """The state of one named value."""

    def __init__(self, det: ScalarAnomaly) -> None:
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.levels: deque[int] = deque(maxlen=det.context)
        self.table: dict[str, int] = {}
        self.raw: deque[float] = deque(maxlen=det.short)
        # the averaged surprise of the last ``long`` steps, as [count, sum, sum of squares] per block
        self.blocks: deque[list[float]] = deque(maxlen=_BLOCKS)
        self.block_size = max(det.long // _BLOCKS, 1)
        self.totals = [0.0, 0.0, 0.0]  # the blocks' sums (kept as they change, not re-added per value)
        self.rest_left = 0

    def remember(self, avg: float) -> None:
        if not self.blocks or self.blocks[-1][0] >= self.block_size:
            if len(self.blocks) == self.blocks.maxlen:  # the oldest block leaves the window
                old = self.blocks[0]
                self.totals = [self.totals[i] - old[i] for i in range(3)]
            self.blocks.append([0.0, 0.0, 0.0])
        last = self.blocks[-1]
        last[0] += 1
        last[1] += avg
        last[2] += avg * avg
        t = self.totals
        t[0] += 1
        t[1] += avg
        t[2] += avg * avg


class ScalarAnomaly:
    """Context novelty as an anomaly likelihood, plus spatial anomalies, with a rest period."""

    def __init__(self, *, bits: int = 3, context: int = 1, short: int = 10, long: int = 1000,
                 warmup: int = 150, tolerance: float = 0.05, alert_level: float = 0.99, rest: int = 100,
                 max_contexts: int = 20000) -> None:
        if not isinstance(bits, int) or not 1 <= bits <= 12:
            raise ValueError(f"bits must be an integer in 1..12, got {bits!r}")
        for name, v, least in (("context", context, 1), ("short", short, 1), ("long", long, 10),
                               ("warmup", warmup, 1), ("max_contexts", max_contexts, 100), ("rest", rest, 0)):
            if not isinstance(v, int) or v < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
        if not 0.0 < alert_level <= 1.0:
            raise ValueError(f"alert_level must be in (0, 1], got {alert_level!r}")
        if not 0.0 <= tolerance:
            raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
        self.bits = bits
        self.context = context
        self.short = short
        self.long = long
        self.warmup = warmup
        self.tolerance = tolerance
        self.alert_level = alert_level
        self.rest = rest
        self.max_contexts = max_contexts
        self._reset()

    def _reset(self) -> None:
        self._channels: dict[str, _Channel] = {}

    # -- the river protocol -------------------------------------------------------------------

    def score_one(self, x: dict[str, float]) -> float:
        """Anomaly score in [0, 1] of ``x`` given the past (does not learn)."""
        best = 0.0
        for name, value in x.items():
            v = _as_float(name, value)
            ch = self._channels.get(name)
            if ch is not None and ch.n >= 1:
                best = max(best, self._step(ch, v, commit=False))
        return best

    def learn_one(self, x: dict[str, float]) -> None:
        """Update the state with ``x``."""
        self.score_learn_one(x)

    def score_learn_one(self, x: dict[str, float]) -> float:
        """``score_one(x)`` then ``learn_one(x)`` in one pass (the same score and state, half the work)."""
        best = 0.0
        for name, value in x.items():
            v = _as_float(name, value)
            ch = self._channels.get(name)
            if ch is None:
                ch = self._channels[name] = _Channel(self)
            if ch.n >= 1:
                best = max(best, self._step(ch, v, commit=True))
            self._learn(ch, v)
        return best

    # -- internals ----------------------------------------------------------------------------

    def _level(self, ch: _Channel, v: float) -> int:
        lo, hi = min(ch.lo, v), max(ch.hi, v)
        if hi <= lo:
            return 0
        top = (1 << self.bits) - 1
        return min(int((v - lo) / (hi - lo) * (top + 1)), top)

    def _keys(self, ch: _Channel, level: int) -> tuple[str, str]:
        past = ",".join(map(str, ch.levels))
        return f"{past}>{level}", past

    def _step(self, ch: _Channel, v: float, *, commit: bool) -> float:
        seen_key, past_key = self._keys(ch, self._level(ch, v))
        seen, total = ch.table.get(seen_key, 0), ch.table.get(past_key, 0)
        surprise = 1.0 if seen == 0 else 1.0 - seen / total
        raw = list(ch.raw)[1:] if len(ch.raw) == ch.raw.maxlen else list(ch.raw)
        raw.append(surprise)
        avg = sum(raw) / len(raw)
        score = 0.0
        n_avg, sum_avg, sum_avg2 = ch.totals
        if ch.n >= self.warmup and n_avg >= 1:
            mean = sum_avg / n_avg
            std = max(math.sqrt(max(sum_avg2 / n_avg - mean * mean, 0.0)), _MIN_STD)
            tail = 0.5 * math.erfc((avg - mean) / std / math.sqrt(2.0))
            score = min(1.0, max(0.0, math.log(tail + 1e-10) / _LOG_TAIL))
            margin = self.tolerance * (ch.hi - ch.lo)
            if v > ch.hi + margin or v < ch.lo - margin:
                score = 1.0
        alert = score >= self.alert_level
        if ch.rest_left > 0:
            score = 0.0
        if commit:
            ch.raw.append(surprise)
            ch.remember(avg)
            ch.rest_left = self.rest if alert else max(ch.rest_left - 1, 0)
        return score

    def _learn(self, ch: _Channel, v: float) -> None:
        level = self._level(ch, v)
        if len(ch.levels) == self.context:
            for key in self._keys(ch, level):
                ch.table[key] = ch.table.get(key, 0) + 1
            if len(ch.table) > self.max_contexts:
                # forget the rarest half; ties keep the older entry (dicts keep insertion order)
                keep = sorted(ch.table.items(), key=lambda kv: -kv[1])[: self.max_contexts // 2]
                ch.table = dict(keep)
        ch.levels.append(level)
        ch.lo, ch.hi = min(ch.lo, v), max(ch.hi, v)
        ch.n += 1

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The whole state as JSON-able data."""
        params = {"bits": self.bits, "context": self.context, "short": self.short, "long": self.long,
                  "warmup": self.warmup, "tolerance": self.tolerance, "alert_level": self.alert_level,
                  "rest": self.rest, "max_contexts": self.max_contexts}
        chans = {}
        for name, ch in self._channels.items():
            chans[name] = {"n": ch.n, "lo": ch.lo, "hi": ch.hi, "levels": list(ch.levels),
                           "table": dict(ch.table), "raw": list(ch.raw),
                           "blocks": [list(b) for b in ch.blocks], "totals": list(ch.totals),
                           "rest_left": ch.rest_left}
        return {"version": 2, "params": params, "channels": chans}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ScalarAnomaly:
        """A detector restored from :meth:`state_dict`."""
        if state.get("version") != 2:
            raise ValueError(f"unsupported ScalarAnomaly state version {state.get('version')!r}")
        det = cls(**state["params"])
        for name, s in state["channels"].items():
            ch = _Channel(det)
            ch.n, ch.lo, ch.hi, ch.rest_left = s["n"], s["lo"], s["hi"], s["rest_left"]
            ch.levels.extend(s["levels"])
            ch.table = dict(s["table"])
            ch.raw.extend(s["raw"])
            ch.blocks.extend([float(c), float(a), float(b)] for c, a, b in s["blocks"])
            ch.totals = [float(v) for v in s["totals"]]  # as kept: a restored detector continues bit for bit
            det._channels[name] = ch
        return det


def _as_float(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: {v!r} is not finite")
    return v
