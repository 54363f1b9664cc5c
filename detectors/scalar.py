"""A streaming anomaly detector for plain scalar telemetry (temperature, current, pressure, ...).

It follows river's protocol: ``score_one(x)`` then ``learn_one(x)`` for each observation, ``x`` a dict
of named numeric values; the score is in ``[0, 1]``, higher = more anomalous (the maximum over the
names). Per name it combines two views of the recent past:

- **context novelty**: the value is quantised at a coarse and a fine resolution over the range seen
  so far, and the transition *last few levels -> this level* is looked up in a table of transitions
  seen before; a never- or rarely-seen transition is surprising (the idea of contextual anomaly
  detection, CAD OSE);
- **deviation**: the distance of the value from the median of a sliding window, in robust
  standard deviations.

The raw surprise is turned into an *anomaly likelihood* as Numenta's HTM does: a short moving
average of surprise is compared with the long-run distribution of that average, so a detector
that is always a little surprised on a noisy series stays quiet. After a score above
``alert_level`` the next ``rest`` observations are damped: one event, one alert.

Memory is bounded (``max_contexts`` transitions per name, fixed windows), there is no randomness,
and ``state_dict`` / ``from_state`` round-trip the whole state through JSON-able data.

>>> det = ScalarAnomaly()
>>> scores = []
>>> for i in range(600):
...     x = {"temp": 20.0 + (i % 24) * 0.1 + (8.0 if i == 500 else 0.0)}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[300:500]) < 0.5, scores[500] > 0.9
(True, True)
"""

from __future__ import annotations

import math
import os
from collections import deque
from typing import Any

__all__ = ["ScalarAnomaly"]


class _Channel:
    """The state of one named value."""

    def __init__(self, det: ScalarAnomaly) -> None:
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.levels: list[deque[int]] = [deque(maxlen=det.context) for _ in det.bits]
        self.table: dict[str, int] = {}
        self.window: deque[float] = deque(maxlen=det.window)
        self.raw: deque[float] = deque(maxlen=det.short)
        self.avgs: deque[float] = deque(maxlen=det.long)
        self.sum_avg = 0.0
        self.sum_avg2 = 0.0
        self.rest_left = 0
        self.spatial = 0.0


class ScalarAnomaly:
    """Context novelty plus robust deviation, as an anomaly likelihood with a rest period."""

    def __init__(self, *, bits: tuple[int, ...] = (3, 5), context: int = 3, window: int = 64,
                 short: int = 8, long: int = 1000, warmup: int = 150, alert_level: float = 0.5,
                 rest: int = 30, max_contexts: int = 20000, likelihood: bool = True) -> None:
        if not bits or any(not 1 <= b <= 12 for b in bits):
            raise ValueError(f"bits must be integers in 1..12, got {bits!r}")
        for name, v, least in (("context", context, 1), ("window", window, 8), ("short", short, 1),
                               ("long", long, 10), ("warmup", warmup, 1), ("max_contexts", max_contexts, 100)):
            if not isinstance(v, int) or v < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
        if not 0.0 < alert_level < 1.0:
            raise ValueError(f"alert_level must be in (0, 1), got {alert_level!r}")
        if rest < 0:
            raise ValueError(f"rest must be >= 0, got {rest!r}")
        self.bits = tuple(bits)
        self.context = context
        self.window = window
        self.short = short
        self.long = long
        self.warmup = warmup
        self.alert_level = alert_level
        self.rest = rest
        self.max_contexts = max_contexts
        self.likelihood = likelihood
        self._reset()

    def _reset(self) -> None:
        self._channels: dict[str, _Channel] = {}

    # -- the river protocol -------------------------------------------------------------------

    def score_one(self, x: dict[str, float]) -> float:
        """Anomaly score in [0, 1] of ``x`` given the past (does not learn)."""
        best = 0.0
        for name, value in x.items():
            ch = self._channels.get(name)
            if ch is None or ch.n < 2:
                continue
            v = _as_float(name, value)
            best = max(best, self._likelihood(ch, self._surprise(ch, v), commit=False))
        return best

    def learn_one(self, x: dict[str, float]) -> None:
        """Update the state with ``x``."""
        for name, value in x.items():
            v = _as_float(name, value)
            ch = self._channels.get(name)
            if ch is None:
                ch = self._channels[name] = _Channel(self)
            if ch.n >= 2:
                s = self._surprise(ch, v)
                self._likelihood(ch, s, commit=True)
            self._learn(ch, v)

    # -- internals ----------------------------------------------------------------------------

    def _quantise(self, ch: _Channel, v: float) -> list[int]:
        lo, hi = min(ch.lo, v), max(ch.hi, v)
        span = hi - lo
        if span <= 0:
            return [0 for _ in self.bits]
        u = (v - lo) / span
        return [min(int(u * (1 << b)), (1 << b) - 1) for b in self.bits]

    def _surprise(self, ch: _Channel, v: float) -> float:
        levels = self._quantise(ch, v)
        novel = 0.0
        for k, level in enumerate(levels):
            past = ",".join(map(str, ch.levels[k]))
            seen = ch.table.get(f"{k}|{past}|{level}", 0)
            total = ch.table.get(f"{k}|{past}", 0)
            novel += 1.0 if seen == 0 else 1.0 - seen / total
        novel /= len(levels)
        tol = 0.05 * (ch.hi - ch.lo)
        out_of_range = 1.0 if (v > ch.hi + tol or v < ch.lo - tol) else 0.0
        ch.spatial = out_of_range
        dev = 0.0
        if len(ch.window) >= 8:
            w = sorted(ch.window)
            med = w[len(w) // 2]
            mad = sorted(abs(a - med) for a in w)[len(w) // 2] * 1.4826
            scale = max(mad, 1e-3 * (ch.hi - ch.lo), 1e-12)
            dev = min(abs(v - med) / scale / 8.0, 1.0)
        import os
        mode = os.environ.get("SCALAR_MODE", "all")
        if mode == "novel":
            return novel
        if mode == "dev":
            return dev
        if mode == "novel_oor":
            return max(novel, out_of_range)
        return max(novel, dev, out_of_range)

    def _likelihood(self, ch: _Channel, surprise: float, *, commit: bool) -> float:
        raw = list(ch.raw)[1:] if len(ch.raw) == ch.raw.maxlen else list(ch.raw)
        raw.append(surprise)
        avg = sum(raw) / len(raw)
        n = len(ch.avgs)
        if n < self.warmup or ch.n < self.warmup:
            score = 0.0
        else:
            mean = ch.sum_avg / n
            var = max(ch.sum_avg2 / n - mean * mean, 0.0)
            std = max(math.sqrt(var), 0.03)
            z = (avg - mean) / std
            tail = 0.5 * math.erfc(z / math.sqrt(2.0))
            # HTM's log scaling: 1 - tail of 1e-5 -> 1.0
            score = min(1.0, max(0.0, math.log(1.0000000001 - (1.0 - tail)) / math.log(1.0 - 0.99999)))
        if not self.likelihood:
            score = surprise if ch.n >= self.warmup else 0.0
        if os.environ.get("SPATIAL") and ch.spatial and ch.n >= self.warmup:
            score = 1.0
        pre = score
        if ch.rest_left > 0:
            score = 0.0
        if commit:
            ch.raw.append(surprise)
            if len(ch.avgs) == ch.avgs.maxlen:
                old = ch.avgs[0]
                ch.sum_avg -= old
                ch.sum_avg2 -= old * old
            ch.avgs.append(avg)
            ch.sum_avg += avg
            ch.sum_avg2 += avg * avg
            if ch.rest_left > 0:
                ch.rest_left -= 1
            if pre >= self.alert_level:
                ch.rest_left = self.rest
        return score

    def _learn(self, ch: _Channel, v: float) -> None:
        levels = self._quantise(ch, v)
        if ch.n >= 1:
            for k, level in enumerate(levels):
                past = ",".join(map(str, ch.levels[k]))
                for key in (f"{k}|{past}|{level}", f"{k}|{past}"):
                    ch.table[key] = ch.table.get(key, 0) + 1
            if len(ch.table) > self.max_contexts:
                # forget the rarest half, deterministically (insertion order breaks ties)
                keep = sorted(ch.table.items(), key=lambda kv: -kv[1])[: self.max_contexts // 2]
                ch.table = dict(keep)
        for k, level in enumerate(levels):
            ch.levels[k].append(level)
        ch.lo, ch.hi = min(ch.lo, v), max(ch.hi, v)
        ch.window.append(v)
        ch.n += 1

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The whole state as JSON-able data."""
        params = {"bits": list(self.bits), "context": self.context, "window": self.window,
                  "short": self.short, "long": self.long, "warmup": self.warmup,
                  "alert_level": self.alert_level, "rest": self.rest, "max_contexts": self.max_contexts,
                  "likelihood": self.likelihood}
        chans = {}
        for name, ch in self._channels.items():
            chans[name] = {"n": ch.n, "lo": ch.lo, "hi": ch.hi, "levels": [list(d) for d in ch.levels],
                           "table": dict(ch.table), "window": list(ch.window), "raw": list(ch.raw),
                           "avgs": list(ch.avgs), "rest_left": ch.rest_left}
        return {"version": 1, "params": params, "channels": chans}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ScalarAnomaly:
        if state.get("version") != 1:
            raise ValueError(f"unsupported ScalarAnomaly state version {state.get('version')!r}")
        p = dict(state["params"])
        p["bits"] = tuple(p["bits"])
        det = cls(**p)
        for name, s in state["channels"].items():
            ch = _Channel(det)
            ch.n, ch.lo, ch.hi, ch.rest_left = s["n"], s["lo"], s["hi"], s["rest_left"]
            ch.levels = [deque(d, maxlen=det.context) for d in s["levels"]]
            ch.table = dict(s["table"])
            ch.window.extend(s["window"])
            ch.raw.extend(s["raw"])
            ch.avgs.extend(s["avgs"])
            ch.sum_avg = sum(ch.avgs)
            ch.sum_avg2 = sum(a * a for a in ch.avgs)
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
