"""Readers and writers for the dataset formats of ``../shared/datasets/README.md``.

Three kinds, each a data file plus a ``.json`` sidecar with the same stem:

- **series**: ``NAME.csv`` with the header ``timestamp,value`` (timestamps ``YYYY-MM-DD HH:MM:SS[.fff]``,
  UTC); the sidecar is optional (NAB ships none) and may name failure ``events`` with a ``timestamp``.
- **record**: ``NAME.npz`` with ``x`` float32 ``(n,)`` acceleration in g, ``fs`` (Hz) and ``rpm``.
- **run**: ``NAME.npz`` with ``x`` ``(n_snapshots, n_samples)`` in g, ``t`` seconds from the run's start,
  ``fs`` and ``rpm``; the sidecar's ``events`` hold the ``failure`` time ``t`` in seconds.

Every problem raises :class:`DatasetError`, whose message names the file and the problem.
A path may be given as the data file, the sidecar or the stem without suffix.

>>> import tempfile, numpy as np
>>> d = tempfile.mkdtemp()
>>> p = write_run(f"{d}/unit", np.zeros((3, 8)), [0.0, 10.0, 20.0], fs=1000.0, rpm=1800.0,
...               events=[{"kind": "failure", "t": 20.0, "mode": "outer_race"}])
>>> run = read_run(p)
>>> run.x.shape, run.failure_t, run.failure_mode, detect_kind(p)
((3, 8), 20.0, 'outer_race', 'run')
>>> read_run(f"{d}/missing")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
foreshock.datasets.DatasetError: .../missing.npz: file does not exist
"""

from __future__ import annotations

import csv
import json
import math
import numbers
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from foreshock.csvcell import is_number

__all__ = [
    "DatasetError",
    "Kind",
    "Record",
    "Run",
    "Series",
    "detect_kind",
    "read",
    "read_record",
    "read_run",
    "read_series",
    "write_record",
    "write_run",
    "write_series",
]

Kind = Literal["series", "record", "run"]
_KINDS = ("series", "record", "run")
_DATA_SUFFIX = {"series": ".csv", "record": ".npz", "run": ".npz"}


class DatasetError(ValueError):
    """A dataset file that cannot be read or written; the message starts with the file's path."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        # raised in a worker process of ``foreshock evaluate --jobs N``: must unpickle in the parent
        return (type(self), (self.path, self.problem))


@dataclass
class Series:
    """A scalar series. ``timestamps`` is ``datetime64[ms]`` (UTC); ``values`` float64."""

    name: str
    timestamps: np.ndarray
    values: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def t_ms(self) -> np.ndarray:
        """Timestamps as int64 epoch milliseconds."""
        return self.timestamps.astype("datetime64[ms]").astype(np.int64)

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.meta.get("events") or [])

    @property
    def failure_ms(self) -> int | None:
        """Epoch milliseconds of the first ``failure`` event, if any."""
        for ev in self.events:
            if ev.get("kind") == "failure":
                return int(np.datetime64(str(ev["timestamp"]).replace(" ", "T"), "ms").astype(np.int64))
        return None


@dataclass
class Record:
    """One steady-state recording: ``x`` float32 in g at ``fs`` Hz, shaft speed ``rpm``."""

    name: str
    x: np.ndarray
    fs: float
    rpm: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fault(self) -> str | None:
        return self.meta.get("fault")

    @property
    def bearing(self) -> dict[str, Any] | None:
        return self.meta.get("bearing")


@dataclass
class Run:
    """A run to failure: snapshots ``x`` (n_snapshots, n_samples) in g taken at ``t`` seconds."""

    name: str
    x: np.ndarray
    t: np.ndarray
    fs: float
    rpm: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.meta.get("events") or [])

    def _failure(self) -> dict[str, Any] | None:
        return next((ev for ev in self.events if ev.get("kind") == "failure"), None)

    @property
    def failure_t(self) -> float | None:
        """Seconds from the run's start of the first ``failure`` event; None if it survived."""
        ev = self._failure()
        return None if ev is None else float(ev["t"])

    @property
    def failure_mode(self) -> str | None:
        ev = self._failure()
        return None if ev is None else ev.get("mode")


# ---------------------------------------------------------------------------------------------
# Paths and sidecars


def _paths(path: str | Path, suffix: str) -> tuple[Path, Path]:
    """``(data file, sidecar)`` for a path given as data file, sidecar or stem."""
    p = Path(path)
    if p.suffix in (".csv", ".npz", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + suffix), p.with_name(p.name + ".json")


def _read_sidecar(path: Path, kind: Kind, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise DatasetError(path, "sidecar file does not exist")
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(path, f"sidecar is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DatasetError(path, f"sidecar must be a JSON object, got {type(doc).__name__}")
    if doc.get("kind", kind) != kind:
        raise DatasetError(path, f"sidecar says kind {doc.get('kind')!r}, expected {kind!r}")
    _check_events(path, doc.get("events"), "timestamp" if kind == "series" else "t")
    return doc


def _check_events(path: Path, events: Any, time_key: str) -> None:
    if events is None:
        return
    if not isinstance(events, list):
        raise DatasetError(path, f"events: expected a list, got {type(events).__name__}")
    when: dict[str, tuple[int, Any]] = {}  # the first failure and onset: (index, time)
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or not isinstance(ev.get("kind"), str):
            raise DatasetError(path, f"events[{i}]: expected an object with a string 'kind'")
        # an onset is the truth false warnings are counted against: one that was no number was a traceback
        if ev["kind"] in ("failure", "onset"):
            if time_key not in ev:
                raise DatasetError(path, f"events[{i}]: {ev['kind']} event needs {time_key!r}")
            if time_key == "t" and not _finite_number(ev["t"]):
                raise DatasetError(
                    path, f"events[{i}].t: expected a finite number of seconds, got {ev['t']!r}"
                )
            if time_key == "t" and ev["t"] < 0:
                raise DatasetError(
                    path, f"events[{i}].t: {ev['t']!r} is before the run's start (t counts seconds from it)"
                )
            at = ev[time_key]
            if time_key == "timestamp":
                try:
                    at = np.datetime64(str(ev["timestamp"]).replace(" ", "T"), "ms")
                except ValueError:
                    raise DatasetError(
                        path, f"events[{i}].timestamp: {ev['timestamp']!r} is not a timestamp"
                    ) from None
            when.setdefault(ev["kind"], (i, at))
    if "onset" in when and "failure" in when and when["onset"][1] > when["failure"][1]:
        (i, onset), (j, failure) = when["onset"], when["failure"]
        raise DatasetError(path, f"events[{i}]: the onset ({time_key} {onset}) is after the failure of events[{j}] "
                                 f"({time_key} {failure}): a fault begins before it fails")


def _finite_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _write_sidecar(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def detect_kind(path: str | Path) -> Kind:
    """The kind of a dataset: from the sidecar's ``kind``, else from the data file.

    A ``.csv`` is a series; an ``.npz`` whose ``x`` is 2-D is a run, 1-D a record.
    """
    p = Path(path)
    csv_path, sidecar = _paths(p, ".csv")
    npz_path = csv_path.with_suffix(".npz")
    if sidecar.exists():
        kind = _read_sidecar_kind(sidecar)
        if kind is not None:
            return kind
    if p.suffix == ".csv" or (p.suffix != ".npz" and csv_path.exists()):
        return "series"
    if not npz_path.exists():
        raise DatasetError(p, "no dataset here: expected NAME.csv (series) or NAME.npz (record, run)")
    x = _load_npz(npz_path).get("x")
    if x is None:
        raise DatasetError(npz_path, "missing array 'x'")
    return "run" if x.ndim == 2 else "record"


def _read_sidecar_kind(sidecar: Path) -> Kind | None:
    try:
        kind = json.loads(sidecar.read_text(encoding="utf-8")).get("kind")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise DatasetError(sidecar, "sidecar is not a valid JSON object") from None
    if kind is None:
        return None
    if kind not in _KINDS:
        raise DatasetError(sidecar, f"unknown kind {kind!r}: expected one of {', '.join(_KINDS)}")
    return kind


def read(path: str | Path) -> Series | Record | Run:
    """Read a dataset of any kind (see :func:`detect_kind`)."""
    kind = detect_kind(path)
    if kind == "series":
        return read_series(path)
    return read_record(path) if kind == "record" else read_run(path)


# ---------------------------------------------------------------------------------------------
# series


def read_series(path: str | Path) -> Series:
    """Read ``NAME.csv`` (``timestamp,value``) and its optional sidecar."""
    data, sidecar = _paths(path, ".csv")
    if not data.exists():
        raise DatasetError(data, "file does not exist")
    meta = _read_sidecar(sidecar, "series", required=False)
    stamps: list[str] = []
    values: list[float] = []
    line = 1
    try:
        with data.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's "CSV UTF-8" starts with a BOM
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != ["timestamp", "value"]:
                raise DatasetError(
                    data, f"line 1: expected header 'timestamp,value', got {','.join(header or [])!r}"
                )
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != 2:
                    raise DatasetError(data, f"line {line}: expected 2 fields, got {len(row)}")
                try:
                    v = float(row[1])
                except ValueError:
                    raise DatasetError(data, f"line {line}: value {row[1][:40]!r} is not a number") from None
                if not math.isfinite(v):
                    raise DatasetError(data, f"line {line}: value {row[1]!r} is not finite")
                stamp = row[0].strip()
                if stamp[4:5] != "-":  # numpy reads '1577836800' as that year, wrapped round to a nonsense date
                    raise DatasetError(data, f"line {line}: {stamp[:40]!r} is not a timestamp: expected UTC "
                                             "'YYYY-MM-DD HH:MM:SS'" + (" (epoch seconds are not read: write them "
                                             "as dates)" if is_number(stamp) else ""))
                stamps.append(stamp.replace(" ", "T"))
                values.append(v)
    except UnicodeDecodeError as exc:
        raise DatasetError(data, f"not UTF-8 text ({exc.reason}): expected a CSV file of timestamp,value") from None
    except csv.Error as exc:
        raise DatasetError(data, f"line {line + 1}: not readable as CSV: {exc}") from None
    if not values:
        raise DatasetError(data, "no data rows after the header 'timestamp,value'")
    try:
        ts = np.array(stamps, dtype="datetime64[ms]")
    except ValueError:
        bad = next(i for i, s in enumerate(stamps) if not _is_timestamp(s))
        raise DatasetError(data, f"line {bad + 2}: {stamps[bad][:40]!r} is not a timestamp") from None
    if np.isnat(ts).any():
        bad = int(np.flatnonzero(np.isnat(ts))[0])
        raise DatasetError(data, f"line {bad + 2}: empty timestamp")
    return Series(name=meta.get("name", data.stem), timestamps=ts, values=np.array(values), meta=meta)


def _is_timestamp(text: str) -> bool:
    try:
        np.datetime64(text, "ms")
    except ValueError:
        return False
    return True


def write_series(
    path: str | Path,
    timestamps: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``NAME.csv`` and ``NAME.json``; ``timestamps`` are epoch ms or ``datetime64``.

    Returns the CSV path.
    """
    data, sidecar = _paths(path, ".csv")
    ts = np.asarray(timestamps)
    ts = (
        ts.astype("datetime64[ms]")
        if np.issubdtype(ts.dtype, np.datetime64)
        else ts.astype(np.int64).astype("datetime64[ms]")
    )
    vals = np.asarray(values, dtype=np.float64)
    if ts.ndim != 1 or vals.ndim != 1 or ts.shape != vals.shape:
        raise DatasetError(
            data, f"timestamps {ts.shape} and values {vals.shape} must be 1-D of the same length"
        )
    if not np.all(np.isfinite(vals)):
        raise DatasetError(data, f"value at row {int(np.flatnonzero(~np.isfinite(vals))[0])} is not finite")
    doc = dict(meta or {})
    doc.setdefault("name", data.stem)
    doc["kind"] = "series"
    _check_events(sidecar, doc.get("events"), "timestamp")
    whole_s = bool(np.all(ts.astype(np.int64) % 1000 == 0))
    text = np.datetime_as_string(ts, unit="s" if whole_s else "ms")
    data.parent.mkdir(parents=True, exist_ok=True)
    with data.open("w", newline="", encoding="utf-8") as fh:
        fh.write("timestamp,value\n")
        fh.writelines(f"{s.replace('T', ' ')},{v:.6g}\n" for s, v in zip(text, vals))
    _write_sidecar(sidecar, doc)
    return data


# ---------------------------------------------------------------------------------------------
# record and run


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise DatasetError(path, "file does not exist")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):  # a bare .npy array: np.load gives the array itself
            raise ValueError("not an archive")
        with npz:
            arrays = {}
            for k in npz.files:
                try:
                    arrays[k] = npz[k]
                except ValueError as exc:  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
                    if "allow_pickle" not in str(exc):
                        raise
                    raise DatasetError(path, f"array {k!r} holds Python objects (dtype object), not numbers: "
                                             "store it as floats") from None
            return arrays
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as exc:
        raise DatasetError(path, f"not a readable npz archive: {_not_npz(path, exc)}") from None


def _not_npz(path: Path, exc: Exception) -> str:
    """Why ``path`` is no npz, in the user's terms: numpy's own words for a file that is no zip at all
    were about pickled data and ``allow_pickle``, and a bare ``.npy`` array was a TypeError traceback."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return str(exc)
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return ("it holds one bare array (numpy.save's .npy format), not the named arrays 'x', 'fs', 'rpm' "
                "of an npz (numpy.savez)")
    if head.startswith(b"version "):  # "version https://git-lfs.github.com/spec/v1"
        return "a Git LFS pointer, not the data (fetch it: git lfs pull)"
    if not head.startswith(b"PK"):
        return f"not a zip of arrays as numpy.savez writes (the file starts with {head!r})"
    if isinstance(exc, zipfile.BadZipFile):
        return f"a zip archive cut short or damaged ({exc}): copy or write it again"
    return str(exc)  # damaged compressed data: the zip module's own words


def _scalar(
    path: Path, arrays: dict[str, np.ndarray], key: str, meta: dict[str, Any], *, positive: bool
) -> float:
    if key in arrays:
        arr = arrays[key]
        if arr.size != 1:
            raise DatasetError(path, f"{key!r} must be a scalar, got shape {arr.shape}")
        if not _real(arr):
            raise DatasetError(path, f"{key!r} must be a number, got {arr.reshape(-1)[0].item()!r} ({arr.dtype})")
        value = float(arr.reshape(()))
    elif _finite_number(meta.get(key)):
        value = float(meta[key])
    else:
        raise DatasetError(path, f"missing {key!r} (neither in the npz nor in the sidecar)")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise DatasetError(
            path, f"{key!r} = {value!r} must be a finite {'positive' if positive else 'non-negative'} number"
        )
    said = meta.get(key)
    if key in arrays and _finite_number(said) and not math.isclose(float(said), value, rel_tol=1e-6):
        # the npz's value was used and the sidecar's ignored: which one describes the recording is unknown
        raise DatasetError(path, f"{key!r} = {value:g} in the npz, but its sidecar {path.with_suffix('.json').name} "
                                 f"says {key} = {said:g}: correct the one that is wrong")
    return value


def _real(arr: np.ndarray) -> bool:
    """Integer or floating point (not bool, complex, text or object)."""
    return bool(np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating))


_KIND_OF_NDIM = {1: "record", 2: "run"}


def _signal(path: Path, arrays: dict[str, np.ndarray], ndim: int, meta: dict[str, Any] | None = None) -> np.ndarray:
    if "x" not in arrays:
        raise DatasetError(path, "missing array 'x'")
    x = arrays["x"]
    if x.ndim != ndim:
        what = "(n_snapshots, n_samples)" if ndim == 2 else "(n,)"
        said = (meta or {}).get("kind")
        if said:  # the sidecar's kind chose the reader: say that the two disagree
            other = _KIND_OF_NDIM.get(x.ndim)
            raise DatasetError(path, f"'x' has shape {x.shape}, but the sidecar's \"kind\": \"{said}\" needs "
                                     f"{ndim}-D {what}" + (f" (a {x.ndim}-D 'x' is a {other})" if other else "")
                                     + ": correct the sidecar's kind or the array")
        raise DatasetError(path, f"'x' must be {ndim}-D {what}, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise DatasetError(path, f"'x' must be floating point, got {x.dtype}")
    if x.size == 0:
        raise DatasetError(path, "'x' is empty")
    if not np.all(np.isfinite(x)):
        raise DatasetError(path, f"'x' has {int((~np.isfinite(x)).sum())} non-finite values")
    return x


def read_record(path: str | Path) -> Record:
    """Read ``NAME.npz`` (``x`` 1-D, ``fs``, ``rpm``) and ``NAME.json``."""
    data, sidecar = _paths(path, ".npz")
    arrays = _load_npz(data)
    meta = _read_sidecar(sidecar, "record", required=False)
    x = _signal(data, arrays, 1, meta)
    return Record(
        name=meta.get("name", data.stem),
        x=x,
        fs=_scalar(data, arrays, "fs", meta, positive=True),
        rpm=_scalar(data, arrays, "rpm", meta, positive=False),
        meta=meta,
    )


def read_run(path: str | Path) -> Run:
    """Read ``NAME.npz`` (``x`` 2-D, ``t``, ``fs``, ``rpm``) and ``NAME.json`` (with ``events``)."""
    data, sidecar = _paths(path, ".npz")
    arrays = _load_npz(data)
    meta = _read_sidecar(sidecar, "run", required=False)
    x = _signal(data, arrays, 2, meta)
    if "t" not in arrays:
        raise DatasetError(data, "missing array 't' (seconds from the run's start)")
    if not _real(arrays["t"]):
        raise DatasetError(data, f"'t' must be numbers of seconds, got {arrays['t'].dtype}")
    t = np.asarray(arrays["t"], dtype=np.float64)
    _check_times(data, t, x.shape[0])
    return Run(
        name=meta.get("name", data.stem),
        x=x,
        t=t,
        fs=_scalar(data, arrays, "fs", meta, positive=True),
        rpm=_scalar(data, arrays, "rpm", meta, positive=False),
        meta=meta,
    )


def _check_times(path: Path, t: np.ndarray, n: int) -> None:
    if t.shape != (n,):
        raise DatasetError(path, f"'t' must have shape ({n},) like the snapshots, got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise DatasetError(path, "'t' has non-finite values")
    if n > 1 and np.any(np.diff(t) < 0):
        raise DatasetError(
            path,
            f"'t' must be non-decreasing (first step back at index {int(np.argmax(np.diff(t) < 0)) + 1})",
        )


def write_record(
    path: str | Path, x: np.ndarray, *, fs: float, rpm: float, meta: dict[str, Any] | None = None
) -> Path:
    """Write a steady-state recording (``x`` stored float32). Returns the npz path."""
    data, sidecar = _paths(path, ".npz")
    arr = _signal(data, {"x": np.asarray(x, dtype=np.float32)}, 1)
    _check_positive(data, fs, rpm)
    doc = {
        "kind": "record",
        "name": data.stem,
        "unit": "g",
        **(meta or {}),
        "fs": float(fs),
        "rpm": float(rpm),
    }
    doc["kind"] = "record"
    data.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(data, x=arr, fs=np.float64(fs), rpm=np.float64(rpm))
    _write_sidecar(sidecar, doc)
    return data


def write_run(
    path: str | Path,
    x: np.ndarray,
    t: Sequence[float] | np.ndarray,
    *,
    fs: float,
    rpm: float,
    events: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
    dtype: str = "float16",
) -> Path:
    """Write a run to failure. ``events`` may hold ``{"kind": "failure", "t": s, "mode": ...}``.

    ``x`` is stored as ``dtype`` (float16 like the shared datasets: about 3 significant digits,
    at most 65504 g). Returns the npz path.
    """
    data, sidecar = _paths(path, ".npz")
    arr = np.asarray(x)
    if dtype not in ("float16", "float32"):
        raise DatasetError(data, f"dtype {dtype!r}: expected float16 or float32")
    arr = _signal(data, {"x": arr.astype(dtype)}, 2)
    times = np.asarray(t, dtype=np.float64)
    _check_times(data, times, arr.shape[0])
    _check_positive(data, fs, rpm)
    doc = {"kind": "run", "name": data.stem, "unit": "g", **(meta or {}), "fs": float(fs), "rpm": float(rpm)}
    doc["kind"] = "run"
    doc["events"] = list(events if events is not None else doc.get("events") or [])
    _check_events(sidecar, doc["events"], "t")
    data.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(data, x=arr, t=times, fs=np.float64(fs), rpm=np.float64(rpm))
    _write_sidecar(sidecar, doc)
    return data


def _check_positive(path: Path, fs: float, rpm: float) -> None:
    if not (_finite_number(fs) and fs > 0):
        raise DatasetError(path, f"fs = {fs!r} must be a positive number of Hz")
    if not (_finite_number(rpm) and rpm >= 0):
        raise DatasetError(path, f"rpm = {rpm!r} must be a non-negative number")
