"""The latest raw vibration snapshot of each unit, for the spectrum endpoints.

The telemetry store keeps only features; the pipeline calls ``put(device_id, snapshot)`` for each
snapshot it assesses. Kept in memory and, when ``directory`` is given, in one ``.npz`` file per unit
so a restart still shows the last spectrum.

>>> import numpy as np
>>> from detectors.types import Snapshot
>>> latest = LatestSnapshots()
>>> latest.put("P-1", Snapshot(ts=1.0, fs=1000.0, samples=np.zeros(8)))
>>> latest.get("P-1").fs, latest.get("P-2")
(1000.0, None)
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import numpy as np

from detectors.types import Snapshot

__all__ = ["LatestSnapshots"]

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class LatestSnapshots:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self._items: dict[str, Snapshot] = {}
        self._lock = threading.Lock()
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, device_id: str, snap: Snapshot) -> None:
        if not _SAFE.fullmatch(device_id):
            raise ValueError(f"bad device id {device_id!r}")
        with self._lock:
            self._items[device_id] = snap
        if self.directory:
            path = self.directory / f"{device_id}.npz"
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, samples=np.asarray(snap.samples, dtype=np.float32),
                     meta=np.array([snap.ts, snap.fs, np.nan if snap.rpm is None else snap.rpm]),
                     axis=np.array(snap.axis))
            tmp.replace(path)

    def get(self, device_id: str) -> Snapshot | None:
        with self._lock:
            snap = self._items.get(device_id)
        if snap is not None or not self.directory or not _SAFE.fullmatch(device_id):
            return snap
        path = self.directory / f"{device_id}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path) as z:
                ts, fs, rpm = (float(v) for v in z["meta"])
                snap = Snapshot(ts=ts, fs=fs, samples=z["samples"].astype(np.float64),
                                rpm=None if np.isnan(rpm) else rpm, axis=str(z["axis"]))
        except (OSError, KeyError, ValueError) as exc:
            log.warning("cannot read stored snapshot %s: %s", path, exc)
            return None
        with self._lock:
            self._items.setdefault(device_id, snap)
        return snap

    def __len__(self) -> int:
        return len(self._items)
