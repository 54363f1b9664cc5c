"""A unit's vibration snapshot as the ingest stage hands it to the detection stage."""

from __future__ import annotations

import numpy as np

from devices.protocol import ParsedMessage, VibrationSnapshot
from ingest.types import IngestedMessage


def vibration_message(seq: int, ts_ms: int, samples: np.ndarray, *, fs: float = 25600.0, rpm: float = 1800.0,
                      axis: str = "x", device: str = "U-1") -> IngestedMessage:
    """``samples`` (g) of ``device`` at ``ts_ms``, received at that time, as float32 on the wire."""
    snap = VibrationSnapshot(ts_ms=ts_ms, seq=seq, axis=axis, fs=fs, rpm=rpm, samples=samples.astype(np.float32))
    return IngestedMessage(device, "vibration", ParsedMessage(device, "vibration", snapshot=snap), None,
                           ts_ms / 1000, f"foreshock/v1/{device}/vibration")
