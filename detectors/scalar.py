"""A streaming anomaly detector for plain scalar telemetry (temperature, current, pressure, ...).

It follows river's protocol: ``score_one(x)`` then ``learn_one(x)`` for each observation, ``x`` a dict
of named numeric values; the score is in ``[0, 1]``, higher = more anomalous (the maximum over the
names). Per name, ideas from the best detectors of the Numenta Anomaly Benchmark:

- **context novelty** (as CAD OSE): the value is quantised into ``2**bits`` levels over the range
  seen so far, and the transition *last ``context`` levels -> this level* is looked up in a table of
  transitions seen before; surprise is ``1 - P(level | context)`` (1 for a transition never seen);
- **phase novelty**, for series with a cycle (a day, a shift): the period is the lag of the highest
  autocorrelation peak (past the first zero crossing, at least ``seasonal_min_r``) of the last
  ``seasonal_history`` levels, among the lags that fit ``seasonal_periods + 1`` times there,
  estimated again every ``seasonal_every`` values; surprise is how far, in levels (as a share of
  the range of levels), the value's level is from the nearest level seen at the same phase (within
  ``seasonal_tolerance`` of a period, at least one value) in the last ``seasonal_periods`` periods.
  A day whose shape changes while its values stay in the usual range is novel here and not in the
  context of one step;
- **anomaly likelihood** (as Numenta HTM), of each surprise apart: the ``short``-step moving
  average of surprise is compared with the distribution of that average over the last ``long``
  steps (kept as the sums of 25 blocks of ``long / 25`` steps: the window slides by a block, and the
  state stays small), and its Gaussian tail is log-scaled, so a series that is always a little
  surprising stays quiet; the score is the larger of the two likelihoods (the phase's counts once
  its own history holds ``warmup`` averages);
- **spatial anomaly** (as Numenta HTM): a value beyond the range seen so far by more than
  ``tolerance`` of that range scores 1;

and after a score of ``alert_level`` or more the next ``rest`` scores are 0 (as CAD OSE): one event,
one alert. Nothing is scored before ``warmup`` observations.

Memory is bounded (at most ``max_contexts`` table entries per name, fixed windows, the last
``seasonal_history`` levels packed at ``bits`` bits each: about 2 KB of JSON per name, 1.7-2.0 KB after
20,000 values of noise or of a cycle), there is no randomness, and ``state_dict`` / ``from_state``
round-trip the state through JSON-able data; a state saved before the phase novelty existed
(version 2) loads, and its phase part starts empty; so do states saved before the table and the
likelihoods' blocks were saved compactly (their counts: :meth:`ScalarAnomaly._table_state`,
:func:`_block_sums`).

>>> det = ScalarAnomaly()
>>> scores = []
>>> for i in range(1200):
...     x = {"temp": 20.0 + (i % 24) * 0.1 + (8.0 if i == 1000 else 0.0)}
...     scores.append(det.score_one(x))
...     det.learn_one(x)
>>> max(scores[300:1000]) < 0.5, scores[1000], det._channels["temp"].period
(True, 1.0, 24)
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache
from typing import Any

from detectors.periodic import MIN_PERIOD, LevelRing, estimate_period, pack_levels, unpack_levels
from detectors.statepack import pack_counts, pack_floats, unpack_counts, unpack_floats

__all__ = ["ScalarAnomaly"]

_LOG_TAIL = math.log(1.0 - 0.99999)  # HTM: a tail probability of 1e-5 scores 1.0
_MIN_STD = 0.03  # floor of the spread of averaged surprise, so a silent series is not hair-triggered
_BLOCKS = 25  # the likelihood's history is kept as this many block sums


def _tail_score(avg: float, mean: float, std: float) -> float:
    """HTM's likelihood: the Gaussian tail of ``avg`` above ``mean``, log-scaled to [0, 1]."""
    tail = 0.5 * math.erfc((avg - mean) / std / math.sqrt(2.0))
    return min(1.0, max(0.0, math.log(tail + 1e-10) / _LOG_TAIL))


class _Likelihood:
    """The anomaly likelihood of the context surprise."""

    def __init__(self, det: ScalarAnomaly) -> None:
        self.raw: deque[float] = deque(maxlen=det.short)
        # the averaged surprise of the last ``long`` steps, as [count, sum, sum of squares] per block
        self.blocks: deque[list[float]] = deque(maxlen=_BLOCKS)
        self.block_size = max(det.long // _BLOCKS, 1)
        self.totals = [0.0, 0.0, 0.0]  # the blocks' sums (kept as they change, not re-added per value)

    def average(self, surprise: float) -> float:
        """The moving average of surprise if ``surprise`` comes next."""
        raw = list(self.raw)[1:] if len(self.raw) == self.raw.maxlen else list(self.raw)
        raw.append(surprise)
        return sum(raw) / len(raw)

    def score(self, avg: float) -> float | None:
        """The likelihood score of ``avg`` against the history (None while there is none)."""
        n_avg, sum_avg, sum_avg2 = self.totals
        if n_avg < 1:
            return None
        mean = sum_avg / n_avg
        return _tail_score(avg, mean, max(math.sqrt(max(sum_avg2 / n_avg - mean * mean, 0.0)), _MIN_STD))

    def commit(self, surprise: float, avg: float) -> None:
        self.raw.append(surprise)
        _add(self.blocks, self.block_size, self.totals, avg)

    def state(self) -> dict[str, Any]:
        # packed floats (detectors.statepack): exact, about half the JSON of lists; the blocks' counts, all
        # ``block_size`` but the newest's, as that one (_block_sums)
        sums = _block_sums(self.blocks, self.block_size)
        if sums is None:
            blocks = {"blocks": pack_floats(v for b in self.blocks for v in b)}
        else:
            blocks = {"block_sums": pack_floats(sums[0]), "last_count": sums[1]}
        return {"raw": pack_floats(self.raw), **blocks, "totals": list(self.totals)}

    def load(self, s: dict[str, Any]) -> None:
        self.raw.extend(unpack_floats(s["raw"]))
        if "block_sums" in s:  # (since 2026-11-22)
            blocks = _blocks_of(unpack_floats(s["block_sums"]), s["last_count"], self.block_size, "likelihood")
        else:
            blocks = s["blocks"]
        if isinstance(blocks, str):  # packed (since 2026-11-22); a list of [count, sum, sum of squares] before
            flat = unpack_floats(blocks)
            if len(flat) % 3:
                raise ValueError("likelihood blocks: the packed values are not [count, sum, sum of squares] triples")
            blocks = [flat[i:i + 3] for i in range(0, len(flat), 3)]
        self.blocks.extend([float(c), float(a), float(b)] for c, a, b in blocks)
        self.totals = [float(v) for v in s["totals"]]  # as kept: a restored detector continues bit for bit


class _GapLikelihood:
    """The anomaly likelihood of the phase surprise, in whole numbers: that surprise is a gap of
    whole levels, so the sum of the last ``short`` gaps and the block sums over ``long`` steps are
    integers (exact, and short in the state). A sum is recorded once ``short`` gaps exist."""

    def __init__(self, det: ScalarAnomaly) -> None:
        self.gaps: deque[int] = deque(maxlen=det.short)
        self.blocks: deque[list[int]] = deque(maxlen=_BLOCKS)
        self.block_size = max(det.long // _BLOCKS, 1)
        self.totals = [0, 0, 0]
        self.scale = det.short * ((1 << det.bits) - 1)  # sum of gaps / scale = mean surprise, in [0, 1]

    def moving_sum(self, gap: int) -> int | None:
        """The sum of the last ``short`` gaps if ``gap`` comes next (None: fewer than ``short``)."""
        g = self.gaps
        if len(g) < g.maxlen - 1:  # type: ignore[operator]
            return None
        return sum(g) - (g[0] if len(g) == g.maxlen else 0) + gap

    def score(self, total: int, least: int) -> float | None:
        """The likelihood score of ``total`` against a history of at least ``least`` sums (else None)."""
        n, s1, s2 = self.totals
        if n < max(least, 1):
            return None
        var = (s2 * n - s1 * s1) / (n * n)  # exact in integers, then one division
        std = max(math.sqrt(max(var, 0.0)) / self.scale, _MIN_STD)
        return _tail_score(total / self.scale, s1 / n / self.scale, std)

    def commit(self, gap: int, total: int | None) -> None:
        self.gaps.append(gap)
        if total is not None:
            _add(self.blocks, self.block_size, self.totals, total)

    def state(self) -> dict[str, Any]:
        sums = _block_sums(self.blocks, self.block_size)
        if sums is None:
            blocks: dict[str, Any] = {"blocks": [list(b) for b in self.blocks]}
        else:
            blocks = {"block_sums": sums[0], "last_count": sums[1]}
        return {"gaps": list(self.gaps), **blocks, "totals": list(self.totals)}

    def load(self, s: dict[str, Any]) -> None:
        self.gaps.extend(int(g) for g in s["gaps"])
        if "block_sums" in s:  # (since 2026-11-22)
            blocks = _blocks_of(s["block_sums"], s["last_count"], self.block_size, "phase likelihood")
        else:
            blocks = s["blocks"]
        self.blocks.extend([int(c), int(a), int(b)] for c, a, b in blocks)
        self.totals = [int(v) for v in s["totals"]]


def _block_sums(blocks: deque, block_size: int) -> tuple[list, int] | None:
    """The blocks' sums and sums of squares, in order, and the newest block's count, when every other block
    holds ``block_size`` values (as :func:`_add` leaves them): their counts need no saving. None otherwise."""
    if any(b[0] != block_size for b in list(blocks)[:-1]):
        return None
    return [v for b in blocks for v in b[1:]], int(blocks[-1][0]) if blocks else 0


def _blocks_of(sums: list, last_count: Any, block_size: int, what: str) -> list[list]:
    """The blocks :func:`_block_sums` saved, as [count, sum, sum of squares]."""
    if len(sums) % 2 or not isinstance(last_count, int) or isinstance(last_count, bool) \
            or not (0 < last_count <= block_size if sums else last_count == 0):
        raise ValueError(f"{what} blocks: {len(sums)} sums and a last count of {last_count!r} are not blocks "
                         f"of at most {block_size} values")
    n = len(sums) // 2
    return [[block_size if i < n - 1 else last_count, sums[2 * i], sums[2 * i + 1]] for i in range(n)]


def _add(blocks: deque, block_size: int, totals: list, x: float) -> None:
    """Add ``x`` to the newest block (a new one when it is full; the oldest leaves the window)."""
    if not blocks or blocks[-1][0] >= block_size:
        if len(blocks) == blocks.maxlen:
            old = blocks[0]
            totals[:] = [totals[i] - old[i] for i in range(3)]
        zero = type(x)(0)  # 0.0 for the context's averages, 0 for the phase's sums of gaps
        blocks.append([zero, zero, zero])
    last = blocks[-1]
    last[0] += 1
    last[1] += x
    last[2] += x * x
    totals[0] += 1
    totals[1] += x
    totals[2] += x * x


class _Channel:
    """The state of one named value."""

    def __init__(self, det: ScalarAnomaly) -> None:
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.levels: deque[int] = deque(maxlen=det.context)
        self.table: dict[str, int] = {}
        self.context = _Likelihood(det)
        self.history = LevelRing(max(det.seasonal_history, 1))  # the last levels, for the phase
        self.period = 0  # 0: no cycle found
        self.phase = _GapLikelihood(det)
        self.rest_left = 0


class ScalarAnomaly:
    """Context and phase novelty as anomaly likelihoods, plus spatial anomalies, with a rest period."""

    def __init__(self, *, bits: int = 3, context: int = 1, short: int = 10, long: int = 1000,
                 warmup: int = 150, tolerance: float = 0.05, alert_level: float = 0.99, rest: int = 100,
                 max_contexts: int = 20000, seasonal_history: int = 1024, seasonal_min_r: float = 0.5,
                 seasonal_tolerance: float = 1 / 48, seasonal_periods: int = 2,
                 seasonal_every: int = 128) -> None:
        if not isinstance(bits, int) or not 1 <= bits <= 12:
            raise ValueError(f"bits must be an integer in 1..12, got {bits!r}")
        for name, v, least in (("context", context, 1), ("short", short, 1), ("long", long, 10),
                               ("warmup", warmup, 1), ("max_contexts", max_contexts, 100), ("rest", rest, 0),
                               ("seasonal_history", seasonal_history, 0),
                               ("seasonal_periods", seasonal_periods, 1),
                               ("seasonal_every", seasonal_every, 1)):
            if not isinstance(v, int) or v < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
        if 0 < seasonal_history < 4 * MIN_PERIOD:
            raise ValueError(f"seasonal_history must be 0 (off) or >= {4 * MIN_PERIOD}, "
                             f"got {seasonal_history!r}")
        if not 0.0 < alert_level <= 1.0:
            raise ValueError(f"alert_level must be in (0, 1], got {alert_level!r}")
        if not 0.0 <= tolerance:
            raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
        if not 0.0 < seasonal_min_r <= 1.0:
            raise ValueError(f"seasonal_min_r must be in (0, 1], got {seasonal_min_r!r}")
        if not 0.0 <= seasonal_tolerance < 0.5:
            raise ValueError(f"seasonal_tolerance must be in [0, 0.5), got {seasonal_tolerance!r}")
        self.bits = bits
        self.context = context
        self.short = short
        self.long = long
        self.warmup = warmup
        self.tolerance = tolerance
        self.alert_level = alert_level
        self.rest = rest
        self.max_contexts = max_contexts
        self.seasonal_history = seasonal_history
        self.seasonal_min_r = seasonal_min_r
        self.seasonal_tolerance = seasonal_tolerance
        self.seasonal_periods = seasonal_periods
        self.seasonal_every = seasonal_every
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

    def _phase_gap(self, ch: _Channel, level: int) -> int | None:
        """How many levels ``level`` is from the nearest level seen at this phase (within the
        tolerance) in the last periods; None when there is no cycle or not a period of history."""
        p = ch.period
        if not p:
            return None
        h = ch.history
        buf, nxt, size = h.buf, h.next, h.size
        d = max(1, round(self.seasonal_tolerance * p))
        gap = None
        for k in range(1, self.seasonal_periods + 1):
            if k * p + d > len(h) or k * p - d < 1:  # back 1 is the newest level, back len(h) the oldest
                break
            for back in range(k * p - d, k * p + d + 1):
                g = abs(buf[(nxt - back) % size] - level)
                if gap is None or g < gap:
                    gap = g
        return gap

    def _step(self, ch: _Channel, v: float, *, commit: bool) -> float:
        level = self._level(ch, v)
        seen_key, past_key = self._keys(ch, level)
        seen, total = ch.table.get(seen_key, 0), ch.table.get(past_key, 0)
        surprise = 1.0 if seen == 0 else 1.0 - seen / total
        avg = ch.context.average(surprise)
        gap = self._phase_gap(ch, self._phase_level(ch, v, level))
        gap_sum = None if gap is None else ch.phase.moving_sum(gap)
        score = 0.0
        likely = ch.context.score(avg)
        if ch.n >= self.warmup and likely is not None:
            score = likely
            if gap_sum is not None:
                score = max(score, ch.phase.score(gap_sum, self.warmup) or 0.0)
            margin = self.tolerance * (ch.hi - ch.lo)
            if v > ch.hi + margin or v < ch.lo - margin:
                score = 1.0
        alert = score >= self.alert_level
        if ch.rest_left > 0:
            score = 0.0
        if commit:
            ch.context.commit(surprise, avg)
            if gap is not None:
                ch.phase.commit(gap, gap_sum)
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
        if self.seasonal_history:
            ch.history.append(self._phase_level(ch, v, level))
            if ch.n % self.seasonal_every == 0 and len(ch.history) >= 4 * MIN_PERIOD:
                ch.period = self._period(ch)

    def _phase_level(self, ch: _Channel, v: float, level: int) -> int:
        """The level the phase novelty reads and keeps for ``v``: the context's own (a variant may
        quantise the phase otherwise: ``bench/nab_variants.py``)."""
        return level

    def _period(self, ch: _Channel) -> int:
        """The cycle in the history: one that fits there ``seasonal_periods`` + 1 times (the
        periods a value is compared with, and its own)."""
        return estimate_period(ch.history.ordered(), self.seasonal_min_r, self.seasonal_periods + 1)

    # -- state --------------------------------------------------------------------------------

    def _table_state(self, table: dict[str, int]) -> dict[str, Any]:
        """A channel's transition table as saved: ``transitions``, the count of every transition from a
        context to a level, in order, when they say all (the table is never pruned: ``max_contexts`` holds
        every context and transition there can be; a context's count is the sum of its transitions'; at
        most 256 transitions: 64 with the defaults), packed as :func:`detectors.statepack.pack_counts` packs
        them (2 bytes a count below 65,536: 172 characters, 2.5 times shorter than the counts' JSON list
        after 3,000 values, 4 times than the table's; since 2026-11-24); else ``table`` as it is."""
        n_levels, ctx = 1 << self.bits, self.context
        cells = n_levels ** (ctx + 1)
        if cells > 256 or n_levels ** ctx + cells > self.max_contexts:
            return {"table": dict(table)}
        index, rows = _cells(self.bits, ctx)
        counts = [table.get(k, 0) for k in index]  # (in index order)
        contexts = [table.get(k, 0) for k in rows]
        if (contexts != [sum(counts[i:i + n_levels]) for i in range(0, cells, n_levels)]
                or type(sum(counts)) is not int or min(counts) < 0 or max(counts) >= 1 << 64  # (a float: a float sum)
                or len(table) != cells + len(contexts) - counts.count(0) - contexts.count(0)):
            return {"table": dict(table)}  # not the keys and counts of this table's (a state saved otherwise)
        return {"transitions": pack_counts(counts)}  # (a list of the counts before 2026-11-24)

    def _table_of(self, counts: Any) -> dict[str, int]:
        """The table :meth:`_table_state` saved as ``transitions`` (raises ValueError for counts that are not)."""
        n_levels, ctx = 1 << self.bits, self.context
        if isinstance(counts, str):  # packed (since 2026-11-24)
            try:
                counts = unpack_counts(counts, n_levels ** (ctx + 1))
            except ValueError as exc:
                raise ValueError(f"anomaly transitions: {exc}") from None
        if not isinstance(counts, list) or len(counts) != n_levels ** (ctx + 1) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            raise ValueError(f"anomaly transitions: expected {n_levels ** (ctx + 1)} counts (whole numbers >= 0), "
                             f"got {str(counts)[:80]}")
        index, rows = _cells(self.bits, ctx)
        names = list(index)
        table: dict[str, int] = {}
        for past, row in rows.items():
            for i in range(row * n_levels, (row + 1) * n_levels):
                if counts[i]:
                    table[names[i]] = counts[i]
                    table[past] = table.get(past, 0) + counts[i]
        return table

    def state_dict(self) -> dict[str, Any]:
        """The whole state as JSON-able data."""
        params = {"bits": self.bits, "context": self.context, "short": self.short, "long": self.long,
                  "warmup": self.warmup, "tolerance": self.tolerance, "alert_level": self.alert_level,
                  "rest": self.rest, "max_contexts": self.max_contexts,
                  "seasonal_history": self.seasonal_history, "seasonal_min_r": self.seasonal_min_r,
                  "seasonal_tolerance": self.seasonal_tolerance, "seasonal_periods": self.seasonal_periods,
                  "seasonal_every": self.seasonal_every}
        chans = {}
        for name, ch in self._channels.items():
            chans[name] = {"n": ch.n, "lo": ch.lo, "hi": ch.hi, "levels": list(ch.levels),
                           **self._table_state(ch.table), **ch.context.state(), "rest_left": ch.rest_left,
                           "history": [len(ch.history), pack_levels(ch.history.ordered(), self.bits)],
                           "period": ch.period,
                           "phase": ch.phase.state() if ch.phase.gaps else None}
        return {"version": 3, "params": params, "channels": chans}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ScalarAnomaly:
        """A detector restored from :meth:`state_dict` (version 3, or 2: saved before the phase
        novelty, whose history then starts empty)."""
        if state.get("version") not in (2, 3):
            raise ValueError(f"unsupported ScalarAnomaly state version {state.get('version')!r}")
        det = cls(**state["params"])
        for name, s in state["channels"].items():
            ch = _Channel(det)
            ch.n, ch.lo, ch.hi, ch.rest_left = s["n"], s["lo"], s["hi"], s["rest_left"]
            ch.levels.extend(s["levels"])
            ch.table = det._table_of(s["transitions"]) if "transitions" in s else dict(s["table"])
            ch.context.load(s)
            if "history" in s:
                count, packed = s["history"]
                ch.history.load(unpack_levels(packed, count, det.bits))
                ch.period = s["period"]
                if s["phase"] is not None:
                    ch.phase.load(s["phase"])
            det._channels[name] = ch
        return det


@lru_cache(maxsize=16)
def _cells(bits: int, context: int) -> tuple[dict[str, int], dict[str, int]]:
    """The keys of a table of ``bits``-bit levels after ``context`` of them, as :meth:`ScalarAnomaly._keys`
    writes them: every transition's with its index (its context's row, then the level), in order, and
    every context's with its row."""
    n_levels = 1 << bits
    rows: dict[str, int] = {}
    index: dict[str, int] = {}
    for row in range(n_levels ** context):
        digits, r = [], row
        for _ in range(context):
            r, d = divmod(r, n_levels)
            digits.append(d)
        past = ",".join(map(str, reversed(digits)))
        rows[past] = row
        for level in range(n_levels):
            index[f"{past}>{level}"] = row * n_levels + level
    return index, rows


def _as_float(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: {v!r} is not finite")
    return v
