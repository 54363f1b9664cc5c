"""Messages lost before Foreshock received them, counted from the gaps in each unit's ``seq``.

Every telemetry record and vibration snapshot of a unit carries ``seq``, one counter per unit that
the unit increments (docs/device-protocol.md). A message lost on the way (the unit's own buffer
overflowing, the broker's ``max_queued_messages`` limit, QoS 0) leaves a gap in it. The detection
stage keeps a :class:`SeqTracker` per unit (small, bounded and serialisable with the unit's detector
state) and calls :meth:`SeqTracker.see` for every record and snapshot; the hot path (the next
``seq``, no gap open) is one int compare.

The rule (``see(seq, ts_ms)``, ``ts_ms`` the message's own time stamp):

- the first ``seq`` of a unit only starts the count;
- ``seq`` = last + 1: nothing missing;
- ``seq`` > last + 1: the numbers in between are an *open gap*; up to :data:`MAX_GAPS` gaps are kept
  open. A late message (a QoS 1 resend overtaking, a snapshot and a record published out of order)
  whose ``seq`` falls in an open gap closes that number. A gap is *counted* (added to ``missing``)
  once the unit's ``seq`` has moved :data:`REORDER_WINDOW` past it, or when it is pushed out by newer
  gaps, or at a reboot: then those messages are taken as lost. The count never goes down.
- ``seq`` = last, or lower and not in an open gap: a duplicate or a resend / backlog, not counted and
  not changing the state, **unless** it is a reboot: ``seq`` at most :data:`RESTART_MAX_SEQ` and the
  message newer (``ts_ms``) than the one that carried the last ``seq``. Then the open gaps are
  counted and the count goes on from the new ``seq`` (numbers skipped before it after the reboot are
  not counted: the count is a lower bound).
- ``seq`` more than :data:`MAX_JUMP` above the last: taken as a counter reset (new firmware, a
  corrupted counter), not as a million lost messages: the open gaps are counted and the count goes on
  from the new ``seq``.

>>> t = SeqTracker()
>>> for s in (1, 2, 5, 4):
...     t.see(s, 1000 * s)
0
0
0
0
>>> t.gaps, t.missing
([[3, 3]], 0)
>>> t.see(6, 6000), t.see(3 + REORDER_WINDOW + 1, 100_000)  # 3 never came; 7 to 67 may still come
(0, 1)
>>> t.missing, t.gaps
(1, [[7, 67]])
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_GAPS", "MAX_JUMP", "REORDER_WINDOW", "RESTART_MAX_SEQ", "SeqTracker", "missing_in_saved_state"]

REORDER_WINDOW = 64  # a gap is counted once seq is this far past it (a late message may still fill it before)
MAX_GAPS = 8  # open gaps kept per unit; the oldest is counted when more open
RESTART_MAX_SEQ = 1000  # a lower seq up to this, in a newer message, is a reboot (the counter starts again at 0)
MAX_JUMP = 1_000_000  # a jump larger than this is a counter reset, not loss


class SeqTracker:
    """The ``seq`` state of one unit: ``last`` seq and the ``ts_ms`` of its message, the open gaps
    (``[first, last]`` missing numbers, oldest first) and ``missing``, the messages counted lost so far."""

    __slots__ = ("gaps", "last", "last_ts_ms", "missing")

    def __init__(self) -> None:
        self.last: int | None = None
        self.last_ts_ms: int = 0
        self.gaps: list[list[int]] = []
        self.missing: int = 0

    def see(self, seq: int, ts_ms: int) -> int:
        """Take one message's ``seq``; return how many messages were counted lost by it (0 mostly)."""
        last = self.last
        if last is not None and seq == last + 1 and not self.gaps:
            self.last, self.last_ts_ms = seq, ts_ms
            return 0
        if last is None:
            self.last, self.last_ts_ms = seq, ts_ms
            return 0
        before = self.missing
        if seq > last:
            if seq - last > MAX_JUMP:
                self._restart(seq, ts_ms)
            else:
                if seq > last + 1:
                    self.gaps.append([last + 1, seq - 1])
                    if len(self.gaps) > MAX_GAPS:
                        self._count(self.gaps.pop(0))
                self.last, self.last_ts_ms = seq, ts_ms
                while self.gaps and seq - self.gaps[0][1] > REORDER_WINDOW:
                    self._count(self.gaps.pop(0))
        elif seq < last and not self._fill(seq) and seq <= RESTART_MAX_SEQ and ts_ms > self.last_ts_ms:
            self._restart(seq, ts_ms)
        # else: a duplicate, a resend or a backlog: nothing changes
        return self.missing - before

    @property
    def open(self) -> int:
        """Numbers missing but not counted yet (a late message may still bring them)."""
        return sum(hi - lo + 1 for lo, hi in self.gaps)

    def _count(self, gap: list[int]) -> None:
        self.missing += gap[1] - gap[0] + 1

    def _restart(self, seq: int, ts_ms: int) -> None:
        for gap in self.gaps:
            self._count(gap)
        self.gaps = []
        self.last, self.last_ts_ms = seq, ts_ms

    def _fill(self, seq: int) -> bool:
        """Close ``seq`` in an open gap; ``False`` when it is in none."""
        for i, (lo, hi) in enumerate(self.gaps):
            if lo <= seq <= hi:
                if lo == hi:
                    del self.gaps[i]
                elif seq == lo:
                    self.gaps[i][0] = seq + 1
                elif seq == hi:
                    self.gaps[i][1] = seq - 1
                else:
                    self.gaps[i:i + 1] = [[lo, seq - 1], [seq + 1, hi]]
                    if len(self.gaps) > MAX_GAPS:  # keep the state bounded: count the oldest now
                        self._count(self.gaps.pop(0))
                return True
        return False

    # -- persistence (with the unit's detector state) ------------------------------------------

    def state(self) -> dict[str, Any] | None:
        if self.last is None:
            return None
        return {"last": self.last, "ts": self.last_ts_ms, "gaps": self.gaps, "missing": self.missing}

    @classmethod
    def from_state(cls, doc: Any) -> SeqTracker:
        """Restore :meth:`state`; ``None`` or an unreadable document gives a fresh tracker (the count
        starts again from the next message: nothing is counted wrongly)."""
        t = cls()
        if not isinstance(doc, dict):
            return t
        try:
            last, ts, missing = doc["last"], doc["ts"], doc["missing"]
            gaps = [[int(lo), int(hi)] for lo, hi in doc.get("gaps", [])][-MAX_GAPS:]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (last, ts, missing)) or missing < 0:
                return t
        except (KeyError, TypeError, ValueError):
            return t
        t.last, t.last_ts_ms, t.gaps, t.missing = last, ts, gaps, missing
        return t


def missing_in_saved_state(state_json: str | None) -> int | None:
    """The ``missing`` count in a unit's saved detector state (``detector_state.state_json``); ``None``
    when it has none (no message since seq gaps were counted) or the document is unreadable."""
    if not state_json:
        return None
    try:
        doc = json.loads(state_json)
    except ValueError:
        return None
    seq = doc.get("seq") if isinstance(doc, dict) else None
    tracker = SeqTracker.from_state(seq)
    return tracker.missing if tracker.last is not None else None
