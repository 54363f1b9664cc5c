"""Streaming condition monitoring: pure computation, no I/O.

Features of vibration snapshots (:mod:`detectors.features`), detectors that follow river's
protocol (``learn_one`` / ``score_one``), and :class:`UnitMonitor`, the per-unit engine that
turns each snapshot into an :class:`Assessment` (health state, failure mode with evidence,
time to failure). State is per unit and serialisable.
"""

from __future__ import annotations

from detectors.monitor import UnitMonitor
from detectors.types import Assessment, BearingGeometry, MachineInfo, Snapshot

__all__ = ["UnitMonitor", "Assessment", "BearingGeometry", "MachineInfo", "Snapshot"]
