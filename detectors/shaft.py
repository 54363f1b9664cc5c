"""Shaft faults from the velocity spectrum: imbalance, misalignment, looseness.

Judged only when the velocity is at least in ISO zone B (a healthy machine always has some 1×):
imbalance is a dominant 1×, misalignment a large 2× relative to 1×, looseness a long train of
harmonics (and sub-harmonics).
"""

from __future__ import annotations

from detectors.iso import zone_limits
from detectors.spectrum import Spectrum
from detectors.types import MachineInfo

__all__ = ["shaft_fault", "shaft_scores"]


def shaft_scores(sp: Spectrum, shaft_hz: float) -> dict[str, float]:
    """Velocity amplitudes (mm/s) at 0.5×, 1×..6× shaft speed, for the shaft-fault rules."""
    orders = (0.5, 1, 1.5, 2, 3, 4, 5, 6)
    return {f"{o:g}x": sp.order_amplitude_mm_s(shaft_hz, o) for o in orders}


def shaft_fault(sp: Spectrum, shaft_hz: float, machine: MachineInfo) -> tuple[str | None, float, list[dict]]:
    lo = 2.0 if machine.low_speed else 10.0
    v = sp.velocity_rms_mm_s(lo, 1000.0)
    limits = zone_limits(machine.iso_group, machine.foundation, machine.zone_limits_mm_s)
    if v < limits[0]:
        return None, 0.0, []
    a = shaft_scores(sp, shaft_hz)
    one = max(a["1x"], 1e-9)
    ev = [{"family": "shaft", "order": k, "amplitude_mm_s": round(val, 4)} for k, val in a.items()]
    harmonics = sum(a[k] > 0.2 * one for k in ("3x", "4x", "5x", "6x")) + sum(a[k] > 0.2 * one for k in ("0.5x", "1.5x"))
    v_sq = v * v
    if harmonics >= 3:
        return "looseness", min(0.5 + 0.1 * harmonics, 0.9), ev
    if a["2x"] > 0.75 * one:
        return "misalignment", min(0.5 + 0.3 * (a["2x"] / one - 0.75), 0.9), ev
    if one * one / 2 > 0.5 * v_sq:
        return "imbalance", min(0.4 + 0.5 * one * one / 2 / v_sq, 0.9), ev
    return None, 0.0, ev
