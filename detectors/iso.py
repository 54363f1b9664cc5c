"""ISO 10816-3 / 20816-3 evaluation zones, and an absolute detector with hysteresis.

Zone A: newly commissioned; B: unrestricted long-term operation; C: restricted operation;
D: severe enough to cause damage. The boundaries (velocity RMS, mm/s) depend on the machine
group and the foundation; a model may override them (``MachineInfo.zone_limits_mm_s``).

>>> zone_limits(2, "rigid")
(1.4, 2.8, 4.5)
>>> det = IsoZoneDetector(limits=(1.4, 2.8, 4.5), hysteresis=0.1)
>>> [det.update(v) for v in (1.0, 3.0, 2.7, 2.4, 5.0)]
['A', 'C', 'C', 'B', 'D']
"""

from __future__ import annotations

import math

from detectors.robust import as_number, finite

__all__ = ["ZONES", "IsoZoneDetector", "zone_limits", "zone_of"]

ZONES = ("A", "B", "C", "D")

# ISO 10816-3 Table A.1 (groups 1 and 3: large machines, pumps with a separate driver) and
# Table A.2 (groups 2 and 4: medium machines, pumps with an integrated driver), velocity RMS mm/s.
_TABLE: dict[tuple[int, str], tuple[float, float, float]] = {
    (1, "rigid"): (2.3, 4.5, 7.1), (1, "flexible"): (3.5, 7.1, 11.0),
    (2, "rigid"): (1.4, 2.8, 4.5), (2, "flexible"): (2.3, 4.5, 7.1),
    (3, "rigid"): (2.3, 4.5, 7.1), (3, "flexible"): (3.5, 7.1, 11.0),
    (4, "rigid"): (1.4, 2.8, 4.5), (4, "flexible"): (2.3, 4.5, 7.1),
}


def zone_limits(group: int, foundation: str = "rigid",
                override: tuple[float, float, float] | None = None) -> tuple[float, float, float]:
    """A/B, B/C and C/D boundaries in mm/s for a machine group (1-4) and foundation."""
    if override is not None:
        lim = tuple(float(v) for v in override)
        if len(lim) != 3 or not 0 < lim[0] < lim[1] < lim[2]:
            raise ValueError(f"zone limits must be three increasing positive numbers, got {override!r}")
        return lim  # type: ignore[return-value]
    try:
        return _TABLE[(int(group), foundation)]
    except KeyError:
        raise ValueError(f"no ISO 10816-3 zone table for group {group!r} on a {foundation!r} foundation "
                         "(groups 1-4, foundation 'rigid' or 'flexible')") from None


def zone_of(v_mm_s: float, limits: tuple[float, float, float]) -> str:
    """The zone letter of a velocity RMS without hysteresis."""
    return ZONES[sum(v_mm_s >= b for b in limits)]


class IsoZoneDetector:
    """Absolute detector: the ISO zone, moving down only when clearly below a boundary.

    ``update(v)`` returns the current zone. Up-moves are immediate; a down-move needs the value
    to fall ``hysteresis`` (a fraction) below the boundary, so a value dithering on a boundary does
    not flap. ``score_one`` is the velocity as a fraction of the C/D boundary (river protocol).
    """

    def __init__(self, limits: tuple[float, float, float] = (1.4, 2.8, 4.5), hysteresis: float = 0.1) -> None:
        self.hysteresis = finite("hysteresis", hysteresis, least=0.0)
        if not self.hysteresis < 0.5:
            raise ValueError(f"hysteresis must be in [0, 0.5), got {hysteresis}")
        self.limits = zone_limits(0, override=limits)
        self._reset()

    def _reset(self) -> None:
        self.zone_index = 0

    @property
    def zone(self) -> str:
        return ZONES[self.zone_index]

    def update(self, v_mm_s: float) -> str:
        raw = sum(v_mm_s >= b for b in self.limits)
        if raw > self.zone_index:
            self.zone_index = raw
        else:
            while self.zone_index > raw and v_mm_s < self.limits[self.zone_index - 1] * (1 - self.hysteresis):
                self.zone_index -= 1
        return self.zone

    def learn_one(self, x: dict[str, float]) -> None:
        v = as_number(x.get("velocity_rms_mm_s"))
        if math.isfinite(v):
            self.update(v)

    def score_one(self, x: dict[str, float]) -> float:
        v = as_number(x.get("velocity_rms_mm_s", 0.0))
        return v / self.limits[2] if math.isfinite(v) else 0.0

    def state_dict(self) -> dict:
        return {"limits": list(self.limits), "hysteresis": self.hysteresis, "zone_index": self.zone_index}

    @classmethod
    def from_state(cls, state: dict) -> IsoZoneDetector:
        det = cls(tuple(state["limits"]), state["hysteresis"])  # type: ignore[arg-type]
        det.zone_index = int(state["zone_index"])
        return det
