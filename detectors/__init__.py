"""Streaming condition monitoring: pure computation, no I/O.

- :func:`detectors.features.snapshot_features`: one flat dict of features per vibration snapshot
  (time domain, ISO velocity and zone, band energies, shaft orders, envelope and defect families).
- :func:`diagnose`: the most likely failure mode of one record, with a confidence and evidence,
  from its envelope spectrum alone (no baseline needed).
- Detectors following river's protocol (``learn_one`` / ``score_one``): :class:`RobustZScore`,
  :class:`Mahalanobis` (Hotelling T², calibrated p-value), :class:`PageHinkley`,
  :class:`IsoZoneDetector` (absolute, with hysteresis).
- :class:`UnitMonitor`: the per-unit engine that fuses them into one :class:`Assessment`
  (health state with reasons, failure mode with evidence, time to failure with a range).
  Its state is bounded and serialisable (``state_dict`` / ``from_state``).
"""

from __future__ import annotations

from detectors.config import MonitorConfig
from detectors.diagnosis import diagnose
from detectors.iso import IsoZoneDetector
from detectors.mahalanobis import Mahalanobis
from detectors.monitor import UnitMonitor
from detectors.pagehinkley import PageHinkley
from detectors.types import Assessment, BearingGeometry, MachineInfo, Snapshot
from detectors.zscore import RobustZScore

__all__ = [
    "Assessment",
    "BearingGeometry",
    "IsoZoneDetector",
    "MachineInfo",
    "Mahalanobis",
    "MonitorConfig",
    "PageHinkley",
    "RobustZScore",
    "Snapshot",
    "UnitMonitor",
    "diagnose",
]
