"""Steady-state records (CWRU) through the diagnosis, :func:`detectors.diagnose`.

A record is cut into consecutive snapshots of ``snapshot_s`` seconds (what a unit would send), each
diagnosed on its own; the record's diagnosis is the most frequent answer (``none`` when no fault is
named), its confidence the share of snapshots that agree times their mean confidence. The sidecar's
fault names are the truth: ``none``, ``inner_race``, ``outer_race``, ``ball``; a record without one
is refused.

>>> accuracy([{"true_fault": "ball", "diagnosed_fault": "ball"}, {"true_fault": "ball", "diagnosed_fault": "none"},
...           {"true_fault": "none", "diagnosed_fault": "none"}])
{'ball': 0.5, 'none': 1.0, 'all': 0.667}
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from detectors import Snapshot, diagnose
from detectors.types import FAILURE_MODES
from evaluation.runs import machine_of
from foreshock.datasets import DatasetError, Record

__all__ = ["accuracy", "evaluate_record"]


def evaluate_record(rec: Record, *, snapshot_s: float = 3.0, max_snapshots: int = 4,
                    source: str | Path | None = None) -> dict[str, Any]:
    """Diagnose a record snapshot by snapshot; ``max_snapshots`` bounds the cost of long records.
    ``source``: the file it was read from, named by errors in its sidecar."""
    where = rec.name if source is None else str(Path(source).with_suffix(".json"))
    if rec.fault is not None and not isinstance(rec.fault, str):
        raise DatasetError(where, f"fault must be a string (none, inner_race, outer_race, ball), got {rec.fault!r}")
    if rec.fault is not None and rec.fault != "none" and rec.fault not in FAILURE_MODES:
        # a misspelt truth ('outer') can never be matched: it was scored as a wrong diagnosis
        raise DatasetError(where, f"fault {rec.fault!r} is not a fault the diagnosis can name: expected none or one "
                                  f"of {', '.join(FAILURE_MODES)}")
    machine = machine_of(rec.meta, rec.rpm, where)
    if rec.fault is None:
        # without it the record was scored as a healthy one diagnosed wrong ("accuracy: none 0%")
        raise DatasetError(where, "no 'fault': the record's true fault (none, inner_race, outer_race, ball) is what "
                                  "its diagnosis is scored against")
    n = max(int(snapshot_s * rec.fs), 256)
    votes: Counter[str] = Counter()
    conf: defaultdict[str, list[float]] = defaultdict(list)
    starts = list(range(0, max(len(rec.x) - n + 1, 1), n))[:max_snapshots]
    for k, i in enumerate(starts):
        snap = Snapshot(ts=i / rec.fs, fs=rec.fs, samples=rec.x[i:i + n], rpm=rec.rpm or None)
        mode, c, _ = diagnose(snap, machine)
        name = mode or "none"
        votes[name] += 1
        conf[name].append(float(c) if mode else 1.0 - float(c))
    # ties: the fault named first wins (Counter keeps insertion order)
    best, count = votes.most_common(1)[0]
    confidence = count / len(starts) * sum(conf[best]) / len(conf[best])
    return {"name": rec.name, "true_fault": rec.fault, "diagnosed_fault": best,
            "confidence": round(confidence, 3), "snapshots": len(starts), "votes": dict(votes)}


def accuracy(records: list[dict[str, Any]]) -> dict[str, float]:
    """Share of records whose diagnosed fault is the true one, per true fault kind and over all."""
    hit: Counter[str] = Counter()
    tot: Counter[str] = Counter()
    for r in records:
        truth = r["true_fault"] or "none"
        tot[truth] += 1
        hit[truth] += r["diagnosed_fault"] == truth
    out = {k: round(hit[k] / tot[k], 3) for k in sorted(tot)}
    if tot:
        out["all"] = round(sum(hit.values()) / sum(tot.values()), 3)
    return out
