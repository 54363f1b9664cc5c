"""Scalar telemetry: duty cycle, speed, motor current, bearing and ambient temperature, velocity.

Everything here is a pure function of (seed, unit, time): no state is carried from one report
to the next, so a run is the same whether it is generated in real time, accelerated, in any
order or straight into files, and all of it is vectorised over units *or* times (numpy
broadcasting). Randomness comes from a counter-based hash (:func:`uniform`), not a generator.

The duty cycle is made of segments of ``duty_segment_s``: in each the machine runs (with
probability ``run_fraction``) at a load of 55-100 %, or stands still. Speed follows the load
through the motor's slip and ramps up over :data:`RAMP_S` after a start; current follows load, with
an inrush at starts; the bearing temperature follows the load through a first-order lag, plus
ambient (a daily cycle) and the heat of a fault. After functional failure the machine is stopped.

>>> import numpy as np
>>> u = uniform(7, np.arange(3), 0, 0)
>>> bool(np.all((u >= 0) & (u < 1))), bool(np.all(u == uniform(7, np.arange(3), 0, 0)))
(True, True)
"""

from __future__ import annotations

import math

import numpy as np

from simulator.waveform import FAILURE_VELOCITY, healthy_velocity_mm_s

__all__ = ["INRUSH_S", "RAMP_S", "VALUE_NAMES", "UnitArrays", "normal", "scalar_values", "uniform"]

RAMP_S = 15.0  # run-up time after a start
INRUSH_S = 4.0  # starting current lasts this long
VALUE_NAMES = ("speed_rpm", "current_a", "temperature_c", "ambient_c", "velocity_mm_s")
_DAY_MS = 86_400_000
_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _M1
        x = (x ^ (x >> np.uint64(30))) * _M2
        x = (x ^ (x >> np.uint64(27))) * _M3
        return x ^ (x >> np.uint64(31))


def uniform(
    seed: int, unit: np.ndarray | int, counter: np.ndarray | int, stream: np.ndarray | int
) -> np.ndarray:
    """Deterministic uniforms in [0, 1) from (seed, unit, counter, stream), broadcast over arrays."""
    with np.errstate(over="ignore"):
        salt = np.asarray(stream, dtype=np.int64).astype(np.uint64) * np.uint64(0x632BE59BD9B4E019)
    h = _mix(np.uint64(seed) ^ salt)
    h = _mix(h ^ np.asarray(unit, dtype=np.int64).astype(np.uint64))
    h = _mix(h ^ np.asarray(counter, dtype=np.int64).astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def normal(
    seed: int, unit: np.ndarray | int, counter: np.ndarray | int, stream: np.ndarray | int
) -> np.ndarray:
    """Deterministic standard normals (Box-Muller on two hashed uniforms)."""
    u1 = uniform(seed, unit, counter, 2 * stream + 1000)
    u2 = uniform(seed, unit, counter, 2 * stream + 1001)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2 * math.pi * u2)


class UnitArrays:
    """Per-unit parameters as arrays (one element per unit), for vectorised evaluation."""

    def __init__(self, fleet_units: list, seed: int) -> None:
        self.seed = seed
        self.index = np.array([u.index for u in fleet_units], dtype=np.int64)
        m = [u.model for u in fleet_units]
        v = [u.variation for u in fleet_units]
        self.rated_rpm = np.array([x.rated_rpm * y.speed for x, y in zip(m, v)])
        self.slip = np.array([x.rated_slip for x in m])
        self.i_rated = np.array([x.rated_current_a for x in m])
        self.i_noload = np.array([x.no_load_current_a for x in m])
        self.rise_k = np.array([x.temp_rise_k * y.thermal for x, y in zip(m, v)])
        self.tau_ms = np.array([x.thermal_tau_s * 1000.0 for x in m])
        self.seg_ms = np.array([x.duty_segment_s * 1000.0 for x in m])
        self.run_fraction = np.array([x.run_fraction for x in m])
        self.ambient_offset = np.array([y.ambient_offset_c for y in v])
        self.fail_temp = np.array([x.fail_temp_c for x in m])
        self.v_healthy = np.array([healthy_velocity_mm_s(x, y) for x, y in zip(m, v)])
        self.v_budget = np.array(
            [
                math.sqrt(max((FAILURE_VELOCITY * x.zones[2]) ** 2 - h**2, 0.0))
                for x, h in zip(m, self.v_healthy)
            ]
        )
        faults = [u.fault for u in fleet_units]
        self.onset = np.array([f.onset_ms if f else 1e18 for f in faults], dtype=np.float64)
        self.failure = np.array([f.failure_ms if f else 2e18 for f in faults], dtype=np.float64)
        self.growth = np.array([f.growth if f else 3.0 for f in faults])
        kinds = [f.kind if f else "" for f in faults]
        self.is_bearing = np.array([k in ("outer_race", "inner_race", "ball") for k in kinds])
        self.is_lube = np.array([k == "lubrication" for k in kinds])
        self.is_shaft = np.array([k in ("imbalance", "misalignment", "looseness") for k in kinds])

    def take(self, idx: np.ndarray) -> UnitArrays:
        out = object.__new__(UnitArrays)
        for name, val in vars(self).items():
            setattr(out, name, val[idx] if isinstance(val, np.ndarray) else val)
        return out


def severity(p: UnitArrays, rel_ms: np.ndarray) -> np.ndarray:
    u = np.clip((rel_ms - p.onset) / (p.failure - p.onset), 0.0, 1.0)
    return np.expm1(p.growth * u) / np.expm1(p.growth)


def _segment(p: UnitArrays, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(running, load) of duty segment ``j``; segment 0 always runs at full load."""
    running = (uniform(p.seed, p.index, j, 1) < p.run_fraction) | (j == 0)
    load = np.where(j == 0, 1.0, 0.55 + 0.45 * uniform(p.seed, p.index, j, 2))
    return running, np.where(running, load, 0.0)


def scalar_values(
    p: UnitArrays, rel_ms: np.ndarray, abs_ms: np.ndarray, counter: np.ndarray
) -> dict[str, np.ndarray]:
    """Telemetry of units ``p`` at times ``rel_ms`` (from the run's start); ``counter`` seeds the noise."""
    rel_ms = np.asarray(rel_ms, dtype=np.float64)
    failed = rel_ms >= p.failure
    t_eff = np.minimum(rel_ms, p.failure)  # the duty cycle as it was when the machine failed
    j = np.floor(t_eff / p.seg_ms).astype(np.int64)
    since = t_eff - j * p.seg_ms
    running, load = _segment(p, j)
    was_running, prev_load = _segment(p, np.maximum(j - 1, 0))
    running = running & ~failed
    start = running & ~(was_running | (j == 0)) & (since < RAMP_S * 1000)
    ramp = np.where(start, np.clip(since / (RAMP_S * 1000), 0, 1), 1.0)
    s = severity(p, rel_ms)
    z = normal(p.seed, p.index[..., None], np.asarray(counter)[..., None], np.arange(5))  # (..., 5) noise

    speed = np.where(running, p.rated_rpm * (1 - p.slip * load) * ramp, 0.0)
    current = p.i_noload + (p.i_rated - p.i_noload) * load
    current = current * (1 + 0.05 * s * (p.is_shaft | p.is_lube))
    inrush = start & (since < INRUSH_S * 1000)
    current = np.where(inrush, 5.0 * p.i_rated, current)
    current = np.where(running, current * (1 + 0.01 * z[..., 0]), 0.0)

    # Heat: load through a first-order lag from the previous segment's level; a failure stops it.
    heat_now = np.where(running | failed, 0.3 + 0.7 * load, 0.0) * (load > 0)
    heat_prev = np.where(was_running, 0.3 + 0.7 * prev_load, 0.0) * (j > 0) + (j == 0) * heat_now
    lag = heat_prev + (heat_now - heat_prev) * (1 - np.exp(-since / p.tau_ms))
    cool = np.exp(-np.maximum(rel_ms - p.failure, 0.0) / p.tau_ms)
    day = (abs_ms % _DAY_MS) / _DAY_MS
    day_index = abs_ms // _DAY_MS
    weather = 3.0 * (uniform(p.seed, 0, day_index, 4) - 0.5) * 2
    ambient = 18.0 + p.ambient_offset + weather + 6.0 * np.sin(2 * math.pi * (day - 0.375))
    # A fault's heat (friction) is there in full at normal load: at failure, lubrication loss has
    # brought the bearing to its failure temperature.
    lube_heat = p.is_lube * s * (p.fail_temp - 20.0 - 0.8 * p.rise_k)
    fault_heat = (p.is_bearing * 12.0 * s**2 + p.is_shaft * 6.0 * s + lube_heat) * np.clip(lag / 0.6, 0, 1)
    temp = ambient + (p.rise_k * lag + fault_heat) * cool
    temp = temp + 0.1 * z[..., 1]

    shape = np.where(p.is_bearing, s**3, np.where(p.is_lube, 0.3 * s**2, s))
    v_fault = p.v_budget * shape * (p.is_bearing | p.is_lube | p.is_shaft)
    velocity = np.sqrt(p.v_healthy**2 + v_fault**2) * (1 + 0.03 * z[..., 2])
    velocity = np.where(speed > 0, velocity * np.clip(speed / p.rated_rpm, 0, 1) ** 2, 0.02)
    return {
        "speed_rpm": np.round(speed, 1),
        "current_a": np.round(current, 2),
        "temperature_c": np.round(temp, 2),
        "ambient_c": np.round(ambient + 0.05 * z[..., 3], 2),
        "velocity_mm_s": np.round(velocity, 3),
    }
