"""Machine models (the equipment sold) and the units built from them.

A :class:`MachineModel` is what the datasheet says: rated speed, bearing geometry, a structural
resonance, the ISO 20816-3 machine group and foundation, the accelerometer fitted and the
snapshot it takes. A :class:`UnitVariation` is how one manufactured unit differs from the
datasheet (a little: speed, resonance, vibration and thermal levels).

>>> PUMP.bearing.multipliers()["bpfo"].__round__(3)    # SKF 6205: 9 balls
3.585
>>> zone_limits(2, "rigid")
(1.4, 2.8, 4.5)
>>> Bearing(n_balls=9, ball_d=40.0, pitch_d=39.0)
Traceback (most recent call last):
...
simulator.models.FleetError: bearing: ball_d (40.0) must be smaller than pitch_d (39.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "CATALOGUE",
    "FAN",
    "GEARBOX",
    "PUMP",
    "Bearing",
    "FleetError",
    "G",
    "MachineModel",
    "Sensor",
    "UnitVariation",
    "zone_limits",
]

G = 9.80665  # m/s² per g

# ISO 10816-3 / 20816-3 zone boundaries A/B, B/C, C/D (velocity RMS, mm/s) by group and foundation.
_ZONES: dict[tuple[int, str], tuple[float, float, float]] = {
    (1, "rigid"): (2.3, 4.5, 7.1),
    (1, "flexible"): (3.5, 7.1, 11.0),
    (2, "rigid"): (1.4, 2.8, 4.5),
    (2, "flexible"): (2.3, 4.5, 7.1),
    (3, "rigid"): (2.3, 4.5, 7.1),
    (3, "flexible"): (3.5, 7.1, 11.0),
    (4, "rigid"): (1.4, 2.8, 4.5),
    (4, "flexible"): (2.3, 4.5, 7.1),
}


class FleetError(ValueError):
    """A fleet description that cannot be simulated; the message names the field and the problem."""


def zone_limits(group: int, foundation: str) -> tuple[float, float, float]:
    """ISO 20816-3 zone boundaries (mm/s RMS) for machine ``group`` 1-4 on a ``foundation``."""
    try:
        return _ZONES[(group, foundation)]
    except KeyError:
        raise FleetError(
            f"iso_group/foundation: no ISO 20816-3 table for group {group!r} on {foundation!r} "
            "(groups 1-4, foundation 'rigid' or 'flexible')"
        ) from None


@dataclass(frozen=True)
class Bearing:
    """Rolling-element bearing geometry (diameters in mm)."""

    n_balls: int
    ball_d: float
    pitch_d: float
    contact_deg: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.n_balls, int) or self.n_balls < 3:
            raise FleetError(f"bearing: n_balls must be an integer of at least 3, got {self.n_balls!r}")
        if not self.ball_d > 0:
            raise FleetError(f"bearing: ball_d must be positive, got {self.ball_d!r}")
        if not self.ball_d < self.pitch_d:
            raise FleetError(f"bearing: ball_d ({self.ball_d}) must be smaller than pitch_d ({self.pitch_d})")
        if self.n_balls * self.ball_d >= math.pi * self.pitch_d:
            raise FleetError(
                f"bearing: {self.n_balls} balls of {self.ball_d} mm do not fit"
                f" on a {self.pitch_d} mm pitch circle"
            )
        if not 0 <= self.contact_deg < 90:
            raise FleetError(f"bearing: contact_deg must be in [0, 90), got {self.contact_deg!r}")

    def multipliers(self) -> dict[str, float]:
        """Defect frequencies as multiples of shaft speed (outer race fixed, inner rotating)."""
        r = self.ball_d / self.pitch_d * math.cos(math.radians(self.contact_deg))
        n = self.n_balls
        return {
            "bpfo": n / 2 * (1 - r),
            "bpfi": n / 2 * (1 + r),
            "bsf": self.pitch_d / (2 * self.ball_d) * (1 - r * r),
            "ftf": 0.5 * (1 - r),
        }


@dataclass(frozen=True)
class Sensor:
    """The accelerometer fitted and the snapshot it takes."""

    range_g: float = 50.0
    bits: int = 16
    noise_g: float = 0.01  # broadband noise floor (RMS)
    fs: float = 25600.0
    n: int = 8192

    def __post_init__(self) -> None:
        if not self.range_g > 0:
            raise FleetError(f"sensor.range_g must be positive, got {self.range_g!r}")
        if not 8 <= self.bits <= 32:
            raise FleetError(f"sensor.bits must be 8..32, got {self.bits!r}")
        if not 100 <= self.fs <= 200_000:
            raise FleetError(f"sensor.fs must be 100..200000 Hz, got {self.fs!r}")
        if not 64 <= self.n <= 65_536:
            raise FleetError(f"sensor.n must be 64..65536 samples, got {self.n!r}")
        if not self.noise_g >= 0:
            raise FleetError(f"sensor.noise_g must be non-negative, got {self.noise_g!r}")

    @property
    def lsb_g(self) -> float:
        return 2 * self.range_g / 2**self.bits


@dataclass(frozen=True)
class MachineModel:
    """A machine model as sold. Levels are those of a healthy, new unit."""

    name: str
    rated_rpm: float
    bearing: Bearing
    resonance_hz: float
    iso_group: int = 2
    foundation: str = "rigid"
    damping: float = 0.05  # damping ratio of the structural resonance
    sensor: Sensor = field(default_factory=Sensor)
    gear_teeth: int | None = None  # gear mesh at teeth × shaft speed, if a gearbox
    rated_current_a: float = 30.0
    no_load_current_a: float = 10.0
    rated_slip: float = 0.02  # induction motor slip at full load
    temp_rise_k: float = 25.0  # bearing temperature above ambient at full load
    thermal_tau_s: float = 900.0
    fail_temp_c: float = 95.0  # lubrication failure when the bearing reaches this
    healthy_zone_fraction: float = 0.45  # healthy velocity RMS as a fraction of the A/B boundary
    duty_segment_s: float = 3600.0  # load changes (or a stop) at most this often
    run_fraction: float = 0.9  # share of segments in which the machine runs

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise FleetError("model.name must be a non-empty string")
        where = f"model {self.name!r}"
        if not 1 <= self.rated_rpm <= 100_000:
            raise FleetError(f"{where}: rated_rpm must be 1..100000, got {self.rated_rpm!r}")
        if not 0 < self.damping < 0.5:
            raise FleetError(f"{where}: damping must be in (0, 0.5), got {self.damping!r}")
        if not 0 < self.resonance_hz < self.sensor.fs / 2:
            raise FleetError(
                f"{where}: resonance_hz ({self.resonance_hz}) must be below the sensor's Nyquist "
                f"frequency ({self.sensor.fs / 2:g} Hz)"
            )
        zone_limits(self.iso_group, self.foundation)
        if self.gear_teeth is not None and not (isinstance(self.gear_teeth, int) and self.gear_teeth >= 5):
            raise FleetError(f"{where}: gear_teeth must be an integer of at least 5, got {self.gear_teeth!r}")
        if not 0 <= self.no_load_current_a < self.rated_current_a:
            raise FleetError(f"{where}: need 0 <= no_load_current_a < rated_current_a")
        if not 0 <= self.rated_slip < 0.2:
            raise FleetError(f"{where}: rated_slip must be in [0, 0.2), got {self.rated_slip!r}")
        if not 0 < self.run_fraction <= 1:
            raise FleetError(f"{where}: run_fraction must be in (0, 1], got {self.run_fraction!r}")
        if not self.duty_segment_s >= 60:
            raise FleetError(f"{where}: duty_segment_s must be at least 60 s, got {self.duty_segment_s!r}")
        top = max(self.bearing.multipliers()["bpfi"], 10.0) * self.rated_rpm / 60
        if top >= self.sensor.fs / 2:
            raise FleetError(
                f"{where}: sensor.fs {self.sensor.fs:g} Hz is too low for {self.rated_rpm:g} rpm"
            )

    @property
    def shaft_hz(self) -> float:
        return self.rated_rpm / 60.0

    @property
    def zones(self) -> tuple[float, float, float]:
        return zone_limits(self.iso_group, self.foundation)

    @property
    def low_speed(self) -> bool:
        return self.rated_rpm < 600

    def to_dict(self) -> dict[str, Any]:
        """What the platform needs to register a unit of this model."""
        b = self.bearing
        return {
            "name": self.name,
            "rated_rpm": self.rated_rpm,
            "bearing": {
                "name": b.name,
                "n_balls": b.n_balls,
                "ball_d": b.ball_d,
                "pitch_d": b.pitch_d,
                "contact_deg": b.contact_deg,
                "multipliers": b.multipliers(),
            },
            "resonance_hz": self.resonance_hz,
            "iso_group": self.iso_group,
            "foundation": self.foundation,
            "zone_limits_mm_s": list(self.zones),
            "snapshot": {"fs": self.sensor.fs, "n": self.sensor.n, "range_g": self.sensor.range_g},
            "gear_teeth": self.gear_teeth,
        }

    def with_overrides(self, **changes: Any) -> MachineModel:
        return replace(self, **changes)


@dataclass(frozen=True)
class UnitVariation:
    """How one manufactured unit differs from its model (multiplicative factors near 1)."""

    speed: float = 1.0
    resonance: float = 1.0
    vibration: float = 1.0
    thermal: float = 1.0
    ambient_offset_c: float = 0.0
    phase: float = 0.0  # 0..1: where in the reporting interval this unit reports


# SKF 6205 (the CWRU drive-end bearing): 9 balls, 7.94 mm, pitch 39.04 mm.
PUMP = MachineModel(
    name="P-1800",
    rated_rpm=1800.0,
    bearing=Bearing(9, 7.94, 39.04, 0.0, "SKF 6205"),
    resonance_hz=3200.0,
    iso_group=2,
    foundation="rigid",
    sensor=Sensor(range_g=50.0, bits=16, noise_g=0.08, fs=25600.0, n=8192),
    rated_current_a=28.0,
    no_load_current_a=9.0,
    temp_rise_k=25.0,
)
# SKF 6203 (the CWRU fan-end bearing): 8 balls, 6.75 mm, pitch 28.5 mm.
FAN = MachineModel(
    name="F-3000",
    rated_rpm=3000.0,
    bearing=Bearing(8, 6.75, 28.5, 0.0, "SKF 6203"),
    resonance_hz=4500.0,
    iso_group=2,
    foundation="flexible",
    sensor=Sensor(range_g=50.0, bits=16, noise_g=0.1, fs=25600.0, n=8192),
    rated_current_a=15.0,
    no_load_current_a=6.0,
    temp_rise_k=20.0,
    thermal_tau_s=600.0,
)
# A slow conveyor gearbox, input shaft on an SKF 22210 spherical roller bearing (2 rows of 17 modelled as 17).
GEARBOX = MachineModel(
    name="G-300",
    rated_rpm=300.0,
    bearing=Bearing(17, 11.0, 70.0, 10.0, "SKF 22210"),
    resonance_hz=1200.0,
    iso_group=1,
    foundation="rigid",
    damping=0.06,
    sensor=Sensor(range_g=16.0, bits=16, noise_g=0.05, fs=5120.0, n=8192),
    gear_teeth=29,
    rated_current_a=60.0,
    no_load_current_a=18.0,
    temp_rise_k=30.0,
    thermal_tau_s=1800.0,
    duty_segment_s=7200.0,
    run_fraction=0.8,
)

CATALOGUE: dict[str, MachineModel] = {m.name: m for m in (PUMP, FAN, GEARBOX)}
