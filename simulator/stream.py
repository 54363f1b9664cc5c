"""The messages a fleet sends, in the order it sends them (sim time), with sensor faults applied.

One generator feeds both the MQTT publisher and the file writer, so a run published to the
platform and a run written to files hold exactly the same data. Each unit reports telemetry every
``telemetry_interval_s`` and a snapshot every ``snapshot_interval_s`` (not while stopped), at a
fixed phase of the interval that differs per unit, so a large fleet's messages are spread out.

>>> from simulator.fleet import demo_fleet
>>> sim = FleetStream(demo_fleet(), start_ms=1_700_000_000_000)
>>> first = next(sim.emissions(1_700_000_000_000 + 600_000))
>>> first.kind, sorted(first.values)
('telemetry', ['ambient_c', 'current_a', 'speed_rpm', 'temperature_c', 'velocity_mm_s'])
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from devices.protocol import telemetry_payload, vibration_payload
from simulator.faults import SensorFault
from simulator.fleet import Fleet, UnitSpec
from simulator.scalars import VALUE_NAMES, UnitArrays, scalar_values, severity, uniform
from simulator.waveform import digitise, synthesize

__all__ = ["Emission", "FleetStream"]


@dataclass(slots=True)
class Emission:
    """One message: sent at ``due_ms`` (sim clock), stamped ``ts_ms`` (the device's clock)."""

    due_ms: int
    unit: UnitSpec
    kind: str  # "telemetry" | "vibration"
    ts_ms: int
    seq: int
    values: dict[str, float] | None = None
    samples: np.ndarray | None = None
    rpm: float | None = None

    def payload(self, seq: int | None = None) -> bytes:
        """The message as the unit sends it; ``seq``: the unit's one counter over telemetry and snapshots
        (the device protocol's), which the publisher keeps; default ``self.seq``, the message's index
        among its unit's messages of its kind (what the stream is generated from)."""
        seq = self.seq if seq is None else seq
        if self.kind == "telemetry":
            assert self.values is not None
            return telemetry_payload(self.ts_ms, seq, self.values)
        assert self.samples is not None
        return vibration_payload(self.ts_ms, seq, self.samples, self.unit.model.sensor.fs, rpm=self.rpm)


class FleetStream:
    """Generates a fleet's messages from ``start_ms`` on (epoch ms of the run's start)."""

    def __init__(self, fleet: Fleet, start_ms: int) -> None:
        self.fleet = fleet
        self.start_ms = int(start_ms)
        self.params = UnitArrays(fleet.units, fleet.seed)
        self._tel_ms = fleet.telemetry_interval_s * 1000.0
        self._snap_ms = fleet.snapshot_interval_s * 1000.0
        self._phase = np.array([u.variation.phase for u in fleet.units])
        self._faulty = [i for i, u in enumerate(fleet.units) if u.sensor_faults]
        # a unit's position in this stream's arrays; not its index in the fleet file (which seeds its
        # random numbers), since a stream may carry one unit of a larger fleet (--out writes unit by unit)
        self._pos = {u.unit_id: i for i, u in enumerate(fleet.units)}

    # -- values ---------------------------------------------------------------------------------

    def telemetry_at(
        self, k: int | np.ndarray, units: np.ndarray | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Report times (epoch ms) and values of tick(s) ``k`` for ``units`` (indices; default all).

        With an array of ticks the results have shape ``(len(k), len(units))``.
        """
        idx = np.arange(len(self.fleet.units)) if units is None else np.asarray(units)
        p = self.params if units is None else self.params.take(idx)
        kk = np.asarray(k, dtype=np.int64)[..., None] if np.ndim(k) else np.asarray(k, dtype=np.int64)
        rel = np.floor((kk + self._phase[idx]) * self._tel_ms)
        counter = np.broadcast_to(kk, rel.shape)
        return self.start_ms + rel.astype(np.int64), scalar_values(p, rel, self.start_ms + rel, counter)

    def snapshot_at(self, i: int, j: int) -> tuple[int, float, np.ndarray] | None:
        """``(ts_ms, rpm, samples)`` of unit ``i``'s ``j``-th snapshot, or None if it is stopped."""
        rel = math.floor((j + self._phase[i]) * self._snap_ms)
        p = self.params.take(np.array([i]))
        rpm = float(
            scalar_values(p, np.array([rel]), np.array([self.start_ms + rel]), np.array([j]))["speed_rpm"][0]
        )
        if rpm <= 0:
            return None
        unit = self.fleet.units[i]
        sev = {}
        if unit.fault is not None:
            sev[unit.fault.kind] = float(severity(p, np.array([float(rel)]))[0])
        rng = np.random.default_rng([self.fleet.seed, unit.index, j, 99])
        return self.start_ms + rel, rpm, synthesize(unit.model, unit.variation, rpm, sev, rng)

    # -- the stream -----------------------------------------------------------------------------

    def emissions(self, end_ms: int, from_ms: int | None = None) -> Iterator[Emission]:
        """Messages due in ``[from_ms, end_ms)`` in the order they are sent."""
        from_ms = self.start_ms if from_ms is None else int(from_ms)
        k = max(int((from_ms - self.start_ms) // self._tel_ms), 0)
        chunk = max(1, min(60, 2000 // len(self.fleet.units)))  # ticks generated at once
        pending: list[Emission] = []  # generated but not yet due (delayed or later in the chunk)
        while True:
            w0 = self.start_ms + k * self._tel_ms
            n = max(1, min(chunk, math.ceil((end_ms - w0) / self._tel_ms)))
            if w0 < end_ms:
                pending.extend(self._windows(k, k + n))
            horizon = min(w0 + n * self._tel_ms, end_ms)  # no later tick has messages due before this
            pending.sort(key=lambda e: (e.due_ms, e.unit.index, e.kind))
            cut = next((i for i, e in enumerate(pending) if e.due_ms >= horizon), len(pending))
            for e in pending[:cut]:
                if e.due_ms >= from_ms:
                    yield e
            pending = pending[cut:]
            if w0 >= end_ms:
                return
            k += n

    def _windows(self, k0: int, k1: int) -> list[Emission]:
        """Everything generated for ticks ``k0 .. k1-1``."""
        units = self.fleet.units
        ts, vals = self.telemetry_at(np.arange(k0, k1))
        cols = [vals[name].ravel().tolist() for name in VALUE_NAMES]
        n = len(units)
        out = [
            Emission(t, units[i % n], "telemetry", t, k0 + i // n, dict(zip(VALUE_NAMES, row)))
            for i, (t, row) in enumerate(zip(ts.ravel().tolist(), zip(*cols)))
        ]
        # Snapshots due in the chunk: the j-th at start + floor((j + phase) * interval).
        w0, w1 = k0 * self._tel_ms, k1 * self._tel_ms
        j0 = np.maximum(np.ceil(w0 / self._snap_ms - self._phase), 0).astype(np.int64)
        j1 = np.ceil(w1 / self._snap_ms - self._phase).astype(np.int64)
        for i in np.flatnonzero(j1 > j0).tolist():
            for j in range(int(j0[i]), int(j1[i])):
                snap = self.snapshot_at(i, j)
                if snap is not None:
                    t, rpm, x = snap
                    out.append(Emission(t, units[i], "vibration", t, j, samples=x, rpm=rpm))
        if self._faulty:
            out = self._sensor_faults(out, k0)
        return out

    def _sensor_faults(self, batch: list[Emission], k0: int) -> list[Emission]:
        out: list[Emission] = []
        faulty = {self.fleet.units[i].unit_id for i in self._faulty}
        for e in batch:
            if e.unit.unit_id not in faulty:
                out.append(e)
                continue
            rel = e.due_ms - self.start_ms
            active = [f for f in e.unit.sensor_faults if f.active(rel)]
            if any(f.kind == "dropout" for f in active):
                continue
            for f in active:
                self._apply(e, f)
            out.append(e)
            if any(f.kind == "duplicate" for f in active):
                dup = Emission(e.due_ms + 1, e.unit, e.kind, e.ts_ms, e.seq, e.values, e.samples, e.rpm)
                out.append(dup)
        return out

    def _apply(self, e: Emission, f: SensorFault) -> None:
        seed, idx = self.fleet.seed, e.unit.index
        sensor = e.unit.model.sensor
        if f.kind == "clock_skew":
            e.ts_ms += int(f.param("skew_s", -600.0) * 1000)
        elif f.kind == "out_of_order" and e.seq % 2 == 0:
            # every other message is held back past the unit's next one of its kind
            e.due_ms += int((self._tel_ms if e.kind == "telemetry" else self._snap_ms) * 1.5)
        elif f.kind == "stuck":
            if e.kind == "telemetry":
                k_stuck = int(max(f.start_ms / self._tel_ms - e.unit.variation.phase, 0))
                _, vals = self.telemetry_at(k_stuck, np.array([self._pos[e.unit.unit_id]]))
                e.values = {name: float(vals[name][0]) for name in VALUE_NAMES}
            elif e.samples is not None:
                level = round(float(uniform(seed, idx, f.start_ms, 40)) * 0.5, 3)
                e.samples = digitise(np.full(e.samples.size, level), sensor)
        elif f.kind == "spikes":
            if (
                e.kind == "telemetry"
                and e.values is not None
                and uniform(seed, idx, e.seq, 41) < f.param("rate", 0.2)
            ):
                name = VALUE_NAMES[int(uniform(seed, idx, e.seq, 42) * len(VALUE_NAMES))]
                e.values = {**e.values, name: round(e.values[name] * 8 + 50, 2)}
            elif e.samples is not None:
                rng = np.random.default_rng([seed, idx, e.seq, 43])
                x = e.samples.astype(np.float64)
                where = rng.integers(0, x.size, size=max(int(f.param("rate", 3)), 1))
                x[where] = rng.choice([-1.0, 1.0], where.size) * f.param("size_g", 0.6 * sensor.range_g)
                e.samples = digitise(x, sensor)
        elif f.kind == "saturation" and e.samples is not None:
            x = e.samples.astype(np.float64)
            level = f.param("level", 1.0) * sensor.range_g
            gain = f.param("gain", 0.5 * level / max(float(x.std()), 1e-9))  # default: clips ~5 % of samples
            e.samples = digitise(np.clip(x * gain, -level, level), sensor)
