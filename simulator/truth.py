"""Ground truth of a run: which unit had which fault, when it started and when the unit failed.

The JSON written next to every run (times in epoch milliseconds)::

    {"seed": 0, "start_ms": ..., "end_ms": ..., "units": [
        {"unit_id": "P-0002", "model": "P-1800", "batch": "2026-W40", "fault": "outer_race",
         "onset_ms": ..., "failure_ms": ...,
         "sensor_faults": [{"kind": "dropout", "start_ms": ..., "end_ms": ...}]}]}

``fault``, ``onset_ms`` and ``failure_ms`` are null for a unit that stays healthy; a failure after
``end_ms`` did not happen within the run (the fault was still growing when it ended).

>>> from simulator.fleet import demo_fleet
>>> t = Truth.of(demo_fleet(), start_ms=0, end_ms=172_800_000)
>>> [(u["unit_id"], u["fault"], u["failure_ms"]) for u in t.units if u["fault"]]
[('P-0002', 'outer_race', 144000000), ('F-0002', 'imbalance', 158400000)]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.fleet import Fleet

__all__ = ["Truth"]


@dataclass
class Truth:
    seed: int
    start_ms: int
    end_ms: int
    units: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, fleet: Fleet, start_ms: int, end_ms: int) -> Truth:
        units = []
        for u in fleet.units:
            f = u.fault
            units.append(
                {
                    "unit_id": u.unit_id,
                    "model": u.model.name,
                    "batch": u.batch,
                    "fault": f.kind if f else None,
                    "onset_ms": start_ms + f.onset_ms if f else None,
                    "failure_ms": start_ms + f.failure_ms if f else None,
                    "sensor_faults": [
                        {"kind": s.kind, "start_ms": start_ms + s.start_ms, "end_ms": start_ms + s.end_ms}
                        for s in u.sensor_faults
                    ],
                }
            )
        return cls(seed=fleet.seed, start_ms=int(start_ms), end_ms=int(end_ms), units=units)

    def unit(self, unit_id: str) -> dict[str, Any]:
        return next(u for u in self.units if u["unit_id"] == unit_id)

    def failed(self) -> list[dict[str, Any]]:
        """Units whose failure happened within the run."""
        return [u for u in self.units if u["failure_ms"] is not None and u["failure_ms"] <= self.end_ms]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "start_ms": self.start_ms, "end_ms": self.end_ms, "units": self.units}

    def write(self, path: str | Path) -> Path:
        """Write the truth whole or not at all: beside ``path`` first, renamed over it when complete
        (a full disk or a Ctrl-C never leaves half a truth, or half of the previous one's place). A
        device or a pipe (``/dev/null``, a FIFO) is written into in place."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path.exists() and not path.is_file() and not path.is_dir():
            # a device or a pipe (/dev/null, /dev/stdout, a FIFO): written into, never replaced by a file
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            return path
        target = path.resolve() if path.is_symlink() else path  # the file a link points to, not the link
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def read(cls, path: str | Path) -> Truth:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(seed=doc["seed"], start_ms=doc["start_ms"], end_ms=doc["end_ms"], units=doc["units"])
