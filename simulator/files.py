"""Write a fleet's streams to files in the shared dataset formats, for offline evaluation.

Per unit: ``<unit>.npz`` + ``.json`` (a **run**: the snapshots in timestamp order, ``t`` in seconds
from the run's start, events ``failure`` / ``onset`` / ``sensor_fault``), and one **series** CSV per
telemetry value, ``<unit>_<value>.csv`` (rows in the order they were sent, as a subscriber would
receive them: duplicates and out-of-order rows included). ``truth.json`` holds the ground truth.
The data are exactly what :class:`~simulator.publisher.FleetPublisher` would publish for the same
fleet, seed and start. Each unit's files appear whole (written aside, moved in when complete), so
an interrupted run leaves the units finished so far and no ``truth.json``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from foreshock.datasets import write_run, write_series
from simulator.fleet import Fleet, UnitSpec
from simulator.scalars import VALUE_NAMES
from simulator.stream import FleetStream
from simulator.truth import Truth

__all__ = ["VALUE_UNITS", "file_clashes", "largest_unit", "unit_file_names", "write_fleet_files"]

log = logging.getLogger(__name__)

VALUE_UNITS = {
    "speed_rpm": "rpm",
    "current_a": "A",
    "temperature_c": "degC",
    "ambient_c": "degC",
    "velocity_mm_s": "mm/s RMS",
}


# a name ending in one of these is taken for a data file or sidecar and the suffix replaced (foreshock.datasets)
_DATA_SUFFIXES = (".csv", ".npz", ".json")


def unit_file_names(unit_id: str) -> set[str]:
    """The names of the files a unit is written to: its run and one series per value."""
    return {f"{unit_id}.npz", f"{unit_id}.json"} | {f"{unit_id}_{v}.{ext}" for v in VALUE_NAMES for ext in ("csv", "json")}


def file_clashes(fleet: Fleet) -> list[str]:
    """Why some units of ``fleet`` cannot be written under their own names (valid device ids all): an id
    that reads as a file name, or one whose files would also be another unit's or the ground truth."""
    problems: list[str] = []
    owner: dict[str, str] = {"truth.json": "the fleet's ground truth"}
    for unit in fleet.units:
        suffix = Path(unit.unit_id).suffix
        if suffix in _DATA_SUFFIXES:
            stem = unit.unit_id[: -len(suffix)]
            problems.append(f"unit {unit.unit_id!r}: an id ending in {suffix} is taken for a file name: its run would "
                            f"be written as {stem}.npz and {stem}.json")
            continue
        for name in sorted(unit_file_names(unit.unit_id)):
            if name in owner:
                problems.append(f"unit {unit.unit_id!r}: its file {name} would also be {owner[name]}")
                break
        else:
            owner.update(dict.fromkeys(unit_file_names(unit.unit_id), f"a file of unit {unit.unit_id!r}"))
    return problems


def _dtype(unit: UnitSpec) -> str:
    """How a unit's snapshots are stored (and held while it is written): float16 as the shared datasets,
    float32 for a sensor range beyond float16's 65504 g."""
    return "float32" if unit.model.sensor.range_g > 60000 else "float16"


def largest_unit(fleet: Fleet, duration_s: float) -> tuple[str, int, int]:
    """``(unit id, snapshots at most, bytes)`` of the unit whose snapshots need the most memory while it is
    written: all of them are held until its run file is written, stacked, and copied once more as stored."""
    best = ("", 0, 0)
    for unit in fleet.units:
        k = int(duration_s // fleet.snapshot_interval_s) + 1  # running throughout, from the run's first moment
        if any(f.kind == "duplicate" for f in unit.sensor_faults):
            k *= 2
        need = k * unit.model.sensor.n * np.dtype(_dtype(unit)).itemsize * 3
        if need > best[2]:
            best = (unit.unit_id, k, need)
    return best


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _events(unit: UnitSpec, start_ms: int, end_ms: int, *, series: bool) -> list[dict[str, Any]]:
    """Sidecar events; a run uses ``t`` (s from start), a series ``timestamp``."""

    def when(rel_ms: int) -> dict[str, Any]:
        return {"timestamp": _stamp(start_ms + rel_ms)} if series else {"t": rel_ms / 1000.0}

    out: list[dict[str, Any]] = []
    f = unit.fault
    if f is not None and start_ms + f.onset_ms <= end_ms:
        out.append({"kind": "onset", **when(f.onset_ms), "mode": f.kind})
    if f is not None and start_ms + f.failure_ms <= end_ms:
        out.append({"kind": "failure", **when(f.failure_ms), "mode": f.kind})
    for s in unit.sensor_faults:
        ev = {"kind": "sensor_fault", **when(s.start_ms), "mode": s.kind}
        ev["end_timestamp" if series else "t_end"] = (
            _stamp(start_ms + s.end_ms) if series else s.end_ms / 1000
        )
        out.append(ev)
    return out


def write_fleet_files(
    fleet: Fleet,
    out_dir: str | Path,
    *,
    start_ms: int,
    duration_s: float,
    progress: Callable[[dict[str, Any]], None] | None = None,
    progress_interval_s: float = 2.0,
) -> Truth:
    """Simulate ``duration_s`` from ``start_ms`` unit by unit into ``out_dir``; returns the truth.
    Raises ValueError, before writing anything, when units' files would clash (:func:`file_clashes`).
    ``progress`` gets each finished unit, and how far a long one has got every ``progress_interval_s``."""
    problems = file_clashes(fleet)
    if problems:
        raise ValueError("; ".join(problems))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end_ms = start_ms + int(duration_s * 1000)
    shown = time.monotonic()
    for n, unit in enumerate(fleet.units, start=1):
        one = Fleet(
            fleet.seed, [unit], fleet.duration_s, fleet.telemetry_interval_s, fleet.snapshot_interval_s
        )
        ts: list[int] = []
        rows: list[tuple[float, ...]] = []
        snaps: list[tuple[int, np.ndarray]] = []
        dtype = _dtype(unit)
        try:
            for k, e in enumerate(FleetStream(one, start_ms).emissions(end_ms)):
                if progress and k % 500 == 0 and time.monotonic() - shown >= progress_interval_s:
                    shown = time.monotonic()  # a long unit: say how far it has got
                    progress({"unit_id": unit.unit_id, "unit_n": n, "units": len(fleet.units),
                              "unit_hours": round((e.ts_ms - start_ms) / 3.6e6, 1),
                              "of_hours": round((end_ms - start_ms) / 3.6e6, 1)})
                if e.kind == "telemetry" and e.values is not None:
                    ts.append(e.ts_ms)
                    rows.append(tuple(e.values[k] for k in VALUE_NAMES))
                elif e.samples is not None:
                    snaps.append((e.ts_ms, e.samples.astype(dtype, copy=False)))  # as stored
            _write_whole(out, unit,
                         lambda folder: _write_unit(folder, unit, fleet, start_ms, end_ms, ts, rows, snaps))
        except MemoryError as exc:  # said with what the unit held: the way out is fewer or smaller snapshots
            raise MemoryError(f"unit {unit.unit_id} ({len(snaps)} snapshots of {unit.model.sensor.n} samples)") from exc
        if progress:
            progress(
                {
                    "units_done": n,
                    "units": len(fleet.units),
                    "unit_id": unit.unit_id,
                    "snapshots": len(snaps),
                    "records": len(ts),
                }
            )
            shown = time.monotonic()  # that was a line too: the next unit's first is "0.0 of N hours" otherwise
    truth = Truth.of(fleet, start_ms, end_ms)
    truth.write(out / "truth.json")
    return truth


def _write_whole(out: Path, unit: UnitSpec, write: Callable[[Path], None]) -> None:
    """A unit's files appear in ``out`` whole or not at all: written into a hidden folder beside them
    and moved in once complete. On any failure (a full disk, Ctrl-C) the part written is removed, so
    that an interrupted run leaves only whole units (a half-written run file was read as damaged)."""
    staging = out / f".writing-{unit.unit_id}"
    try:
        staging.mkdir()
        write(staging)
        for f in sorted(staging.iterdir()):
            os.replace(f, out / f.name)
        staging.rmdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_unit(
    out: Path,
    unit: UnitSpec,
    fleet: Fleet,
    start_ms: int,
    end_ms: int,
    ts: list[int],
    rows: list[tuple[float, ...]],
    snaps: list[tuple[int, np.ndarray]],
) -> None:
    model = unit.model
    common = {
        "source": "foreshock simulator",
        "unit_id": unit.unit_id,
        "model": model.name,
        "batch": unit.batch,
        "seed": fleet.seed,
        "start_ms": start_ms,
    }
    if snaps:
        snaps.sort(key=lambda s: s[0])
        x = np.stack([s for _, s in snaps])
        t = (np.array([t for t, _ in snaps], dtype=np.int64) - start_ms) / 1000.0
        write_run(
            out / unit.unit_id,
            x,
            t,
            fs=model.sensor.fs,
            rpm=model.rated_rpm,
            events=_events(unit, start_ms, end_ms, series=False),
            meta={
                **common,
                "axis": "x",
                "interval_s": fleet.snapshot_interval_s,
                "snapshot_s": model.sensor.n / model.sensor.fs,
                "load_n": None,
                "bearing": model.to_dict()["bearing"],
                "machine": model.to_dict(),
            },
            dtype=_dtype(unit),
        )
    else:
        log.warning("unit %s sent no snapshot in the run: no run file written", unit.unit_id)
    if rows:
        cols = np.array(rows, dtype=np.float64)
        events = _events(unit, start_ms, end_ms, series=True)
        for k, name in enumerate(VALUE_NAMES):
            write_series(
                out / f"{unit.unit_id}_{name}",
                np.array(ts, dtype=np.int64),
                cols[:, k],
                meta={
                    **common,
                    "name": f"{unit.unit_id}_{name}",
                    "value": name,
                    "unit": VALUE_UNITS[name],
                    "interval_s": fleet.telemetry_interval_s,
                    "events": events,
                },
            )
