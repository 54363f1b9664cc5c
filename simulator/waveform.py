"""Vibration snapshots a vibration analyst would recognise (vectorised numpy, no per-sample loops).

What is in a snapshot of a unit running at ``rpm`` with fault severities ``s`` (0..1):

- shaft-speed harmonics: a healthy unit's 1×, 2×, 3× (and the gear mesh of a gearbox); imbalance
  raises 1×, misalignment 2× (and 1×, 3×), looseness many harmonics and half-harmonics;
- bearing defects as periodic impacts at BPFO / BPFI / BSF (from the geometry) that ring the
  structural resonance; inner-race impacts amplitude-modulated at shaft speed, ball impacts at the
  cage frequency (FTF); each interval jittered by ~1 % (slip);
- broadband noise, raised by late bearing damage; friction noise in the resonance band with
  lubrication loss;
- the sensor: clipping at its range and quantisation to its resolution (:func:`digitise`).

Each fault's shaft-frequency content is scaled so that the velocity RMS (ISO band) reaches 1.15 × the
model's zone C/D boundary at severity 1: functional failure by construction (lubrication loss:
0.3 × that budget; it fails by temperature, :mod:`simulator.scalars`).

>>> import numpy as np
>>> from simulator.models import PUMP, UnitVariation
>>> x = synthesize(PUMP, UnitVariation(), 1800.0, {}, np.random.default_rng(0))
>>> x.shape, x.dtype
((8192,), dtype('float32'))
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from simulator.models import G, MachineModel, Sensor, UnitVariation

__all__ = [
    "FAILURE_VELOCITY",
    "SLIP",
    "digitise",
    "fault_velocity_mm_s",
    "healthy_velocity_mm_s",
    "impact_times",
    "synthesize",
]

SLIP = 0.01  # standard deviation of each impact interval, as a fraction of the interval

# Velocity RMS weights over shaft orders for each fault (normalised before use).
_ORDERS: dict[str, dict[float, float]] = {
    "healthy": {1.0: 1.0, 2.0: 0.5, 3.0: 0.25},
    "imbalance": {1.0: 1.0, 2.0: 0.08},
    "misalignment": {1.0: 0.5, 2.0: 1.0, 3.0: 0.35},
    "looseness": {
        0.5: 0.3,
        1.0: 1.0,
        1.5: 0.3,
        2.0: 0.8,
        2.5: 0.25,
        3.0: 0.6,
        4.0: 0.5,
        5.0: 0.4,
        6.0: 0.35,
        7.0: 0.3,
        8.0: 0.25,
        9.0: 0.2,
        10.0: 0.2,
    },
    "bearing": {1.0: 1.0, 2.0: 0.6, 3.0: 0.4, 4.0: 0.3, 5.0: 0.25},
    "lubrication": {1.0: 1.0, 2.0: 0.3},
}
_BEARING_RATE = {"outer_race": "bpfo", "inner_race": "bpfi", "ball": "bsf"}
FAILURE_VELOCITY = 1.15  # velocity RMS at functional failure, as a multiple of the C/D boundary


def healthy_velocity_mm_s(model: MachineModel, var: UnitVariation) -> float:
    """Velocity RMS (mm/s) of a healthy unit: a fraction of the A/B boundary."""
    return model.healthy_zone_fraction * model.zones[0] * var.vibration


def _fault_shape(kind: str, s: float) -> float:
    """How much of the fault's velocity budget is present at severity ``s`` (1 at s = 1)."""
    if kind in _BEARING_RATE:
        return s**3  # bearing damage shows in velocity late: the P-F interval is in the impacts
    if kind == "lubrication":
        return 0.3 * s**2
    return s


def fault_velocity_mm_s(model: MachineModel, var: UnitVariation, kind: str, s: float) -> float:
    """Velocity RMS (mm/s) the fault adds at severity ``s`` (combined in quadrature with the rest)."""
    v_h = healthy_velocity_mm_s(model, var)
    budget = math.sqrt(max((FAILURE_VELOCITY * model.zones[2]) ** 2 - v_h**2, 0.0))
    return budget * _fault_shape(kind, float(s))


def _tones(
    t: np.ndarray,
    shaft_hz: float,
    orders: dict[float, float],
    v_rms: float,
    rng: np.random.Generator,
    fs: float,
) -> np.ndarray:
    """Sum of sines at ``orders`` × shaft speed whose combined velocity RMS is ``v_rms`` mm/s."""
    o = np.array([k for k in orders if k * shaft_hz < fs / 2.2])
    if o.size == 0 or v_rms <= 0:
        return np.zeros_like(t)
    w = np.array([orders[k] for k in o])
    v_each = v_rms * w / math.sqrt(float(np.dot(w, w)))  # velocity RMS per line
    f = o * shaft_hz
    a_g = v_each * math.sqrt(2) * 2 * math.pi * f / (G * 1000.0)  # acceleration amplitude, g
    phase = rng.uniform(0, 2 * math.pi, o.size)
    return (a_g[:, None] * np.sin(2 * math.pi * f[:, None] * t[None, :] + phase[:, None])).sum(axis=0)


def _ring(model: MachineModel, var: UnitVariation, fs: float) -> np.ndarray:
    """Impulse response of the structural resonance, peak 1, until it has decayed to 1e-3."""
    wn = 2 * math.pi * model.resonance_hz * var.resonance
    zeta = model.damping
    wd = wn * math.sqrt(1 - zeta**2)
    length = max(int(math.log(1000.0) / (zeta * wn) * fs), 4)
    tt = np.arange(length) / fs
    h = np.exp(-zeta * wn * tt) * np.sin(wd * tt)
    return h / np.max(np.abs(h))


def impact_times(
    rate_hz: float, duration_s: float, rng: np.random.Generator, *, lead_s: float = 0.0
) -> np.ndarray:
    """Impact times in ``[-lead_s, duration_s)``: period ``1/rate_hz``, intervals jittered by :data:`SLIP`."""
    period = 1.0 / rate_hz
    count = int(math.ceil((duration_s + lead_s) / period)) + 2
    intervals = period * (1.0 + SLIP * rng.standard_normal(count))
    times = -lead_s - rng.uniform(0, period) + np.cumsum(intervals)
    return times[times < duration_s]


def _impacts(
    model: MachineModel,
    var: UnitVariation,
    kind: str,
    s: float,
    shaft_hz: float,
    n: int,
    fs: float,
    rng: np.random.Generator,
) -> np.ndarray:
    mult = model.bearing.multipliers()
    rate = mult[_BEARING_RATE[kind]] * shaft_hz
    h = _ring(model, var, fs)
    lead = h.size / fs
    times = impact_times(rate, n / fs, rng, lead_s=lead)
    amp = np.full(times.size, 0.1 * model.sensor.range_g * (0.1 + 0.9 * s) * min(s * 20, 1.0))
    if kind == "inner_race":  # the defect passes through the load zone once per revolution
        amp *= 0.2 + 0.8 * 0.5 * (1 + np.cos(2 * math.pi * shaft_hz * times + rng.uniform(0, 2 * math.pi)))
    elif kind == "ball":  # the ball's defect enters the load zone with the cage
        amp *= 0.2 + 0.8 * 0.5 * (
            1 + np.cos(2 * math.pi * mult["ftf"] * shaft_hz * times + rng.uniform(0, 6.3))
        )
    amp *= 1.0 + 0.1 * rng.standard_normal(times.size)  # impact-to-impact variation
    idx = np.round((times + lead) * fs).astype(np.int64)
    total = n + h.size
    train = np.bincount(
        idx[(idx >= 0) & (idx < total)], weights=amp[(idx >= 0) & (idx < total)], minlength=total
    )
    size = 1 << (total + h.size - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(train, size) * np.fft.rfft(h, size), size)
    return y[h.size : h.size + n]


def synthesize(
    model: MachineModel,
    var: UnitVariation,
    rpm: float,
    severity: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n: int | None = None,
    fs: float | None = None,
) -> np.ndarray:
    """One snapshot (acceleration, g, float32) of a unit at ``rpm`` with fault ``severity`` by kind."""
    n = n or model.sensor.n
    fs = fs or model.sensor.fs
    t = np.arange(n) / fs
    shaft_hz = rpm / 60.0
    s_bearing = max((severity.get(k, 0.0) for k in _BEARING_RATE), default=0.0)
    noise = model.sensor.noise_g * var.vibration * (1.0 + 3.0 * s_bearing**2)
    x = noise * rng.standard_normal(n)
    if shaft_hz <= 0:
        return digitise(x, model.sensor)
    x += _tones(t, shaft_hz, _ORDERS["healthy"], healthy_velocity_mm_s(model, var), rng, fs)
    if model.gear_teeth:
        x += _tones(
            t, shaft_hz, {float(model.gear_teeth): 1.0}, 0.2 * healthy_velocity_mm_s(model, var), rng, fs
        )
    for kind, s in severity.items():
        if s <= 0:
            continue
        group = "bearing" if kind in _BEARING_RATE else kind
        x += _tones(t, shaft_hz, _ORDERS[group], fault_velocity_mm_s(model, var, kind, s), rng, fs)
        if kind in _BEARING_RATE:
            x += _impacts(model, var, kind, s, shaft_hz, n, fs, rng)
        elif kind == "lubrication":  # metal-to-metal friction: noise that excites the resonance
            h = _ring(model, var, fs)
            friction = np.convolve(rng.standard_normal(n + h.size), h, mode="valid")[:n]
            x += 0.02 * model.sensor.range_g * s * friction / max(float(np.std(friction)), 1e-12)
    return digitise(x, model.sensor)


def digitise(x: np.ndarray, sensor: Sensor) -> np.ndarray:
    """Clip to the sensor's range and quantise to its resolution; float32 like the wire format."""
    lsb = sensor.lsb_g
    return (np.round(np.clip(x, -sensor.range_g, sensor.range_g - lsb) / lsb) * lsb).astype(np.float32)
