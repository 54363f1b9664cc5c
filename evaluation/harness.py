"""``foreshock evaluate``: every dataset under the given paths through the same code as the live pipeline.

- NAB-labelled series -> :class:`detectors.scalar.ScalarAnomaly`, scored by :mod:`evaluation.nab`;
- CWRU records -> :func:`detectors.diagnose` (:mod:`evaluation.records`);
- runs to failure (FEMTO, simulator) and series with a failure event (IMS) ->
  :class:`detectors.UnitMonitor` (:mod:`evaluation.runs`); simulated fleets are summarised by
  :mod:`evaluation.fleet`.

Datasets are evaluated in parallel worker processes (``jobs``), the longest first; each one
streams (scored before learnt). The report is a JSON-able dict (see :func:`evaluate`).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

from detectors.config import MonitorConfig
from detectors.scalar import ScalarAnomaly
from evaluation import fleet as fleet_mod
from evaluation.discover import Item, damaged_npz_refused
from evaluation.nab import Series as ScoredSeries
from evaluation.nab import score_corpus
from evaluation.nab_corpus import label_windows, stream_scores
from evaluation.options import BUILTIN_SCALAR, Options
from evaluation.records import accuracy, evaluate_record
from evaluation.runs import evaluate_failure_series, evaluate_run
from foreshock.datasets import read_record, read_run, read_series

__all__ = ["WorkerDied", "evaluate", "evaluate_item", "settings_of"]

_DEFAULTS = Options()

log = logging.getLogger(__name__)

Progress = Callable[[int, int, Item, float], None]
Within = Callable[[Item, int, int], None]
Waiting = Callable[[list[Item], float], None]


def evaluate_item(item: Item, options: Options = _DEFAULTS,
                  within: Callable[[int, int], None] | None = None) -> tuple[Item, Any, float]:
    """Evaluate one dataset; returns ``(item, result, seconds)``. Raises ``DatasetError`` on bad
    files, :class:`evaluation.options.DetectorFailed` when a user's scalar detector fails.
    ``within(done, total)`` is called now and then while a run's snapshots (a NAB series' rows) are fed."""
    t0 = time.perf_counter()
    result: Any
    with damaged_npz_refused(item.path):
        result = _evaluate(item, options, within)
    return item, result, time.perf_counter() - t0


def _evaluate(item: Item, options: Options, within: Callable[[int, int], None] | None) -> Any:
    result: Any
    if item.kind == "nab":
        s = read_series(item.path)
        windows = label_windows(item.path) or []
        if options.scalar_detector == BUILTIN_SCALAR:
            scores = stream_scores(s, ScalarAnomaly, progress=within)
        else:
            scores = stream_scores(s, options.make_scalar(), checked=options.scalar_detector, where=str(item.path),
                                   progress=within)
        result = ScoredSeries(timestamps=s.timestamps.tolist(), scores=scores.tolist(),
                              windows=[(a.astype(object), b.astype(object)) for a, b in windows])
    elif item.kind == "series":
        series = read_series(item.path)
        config = options.config_for(series.meta.get("model"))
        result = {**evaluate_failure_series(series, config=config, source=item.path), "engine_overrides": config}
    elif item.kind == "record":
        result = evaluate_record(read_record(item.path), source=item.path)
    else:
        run = read_run(item.path)
        config = options.config_for(run.meta.get("model"))
        result = {**evaluate_run(run, config=config, source=item.path, progress=within), "engine_overrides": config}
    return result


class WorkerDied(RuntimeError):
    """A worker process ended while it evaluated a dataset (a detector that ends its process, a crash
    in a native library)."""


def _in_workers(order: list[Item], options: Options, jobs: int, waiting: Waiting | None = None,
                heartbeat_s: float = 10.0):
    """``evaluate_item`` of each item in ``jobs`` processes, yielded as they finish. A worker that dies
    is an error naming the datasets it may have held (``multiprocessing.Pool`` replaced the worker and
    waited for ever for the lost task); on any error the other workers are stopped at once, not left to
    finish their datasets. ``waiting(items, seconds)`` is called every ``heartbeat_s`` in which no
    dataset finished, with those being evaluated: a long run in a worker is otherwise silent."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context())
    futures = {pool.submit(evaluate_item, item, options): item for item in order}
    t0 = time.monotonic()
    completed = False
    try:
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=heartbeat_s, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield fut.result()
            if not finished and waiting is not None:
                waiting([futures[f] for f in futures if f.running()], time.monotonic() - t0)
        completed = True
    except BrokenProcessPool:
        lost = [futures[f].name for f in futures if f.done() and isinstance(f.exception(), BrokenProcessPool)]
        names = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise WorkerDied(f"a worker process ended while evaluating one of {names}: a detector (or a native "
                         "library) that ends or crashes its process; run again with --jobs 1 to see which dataset "
                         "and why") from None
    finally:
        # shutdown() drops the pool's references to its workers and its manager thread: take them first
        workers = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)
        if completed:  # every worker idle: they end at once
            pool.shutdown(wait=True)
        else:
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in workers:  # still busy with a dataset: stopped, not awaited
                if proc.is_alive():
                    proc.terminate()
            # the manager thread then ends at once; waited for, because Python 3.11's exit hook racing
            # its end printed "OSError: [Errno 9] Bad file descriptor" after the command's own message
            if manager is not None:
                manager.join(timeout=10.0)


def _size(item: Item) -> int:
    try:
        return item.path.stat().st_size * (8 if item.kind == "run" else 1)
    except OSError:
        return 0


def evaluate(items: list[Item], *, jobs: int = 1, progress: Progress | None = None,
             options: Options = _DEFAULTS, within: Within | None = None, waiting: Waiting | None = None,
             heartbeat_s: float = 10.0) -> dict[str, Any]:
    """Evaluate ``items`` and build the report (``progress`` after each dataset; ``within(item, done,
    total)`` while a run is fed, when the datasets are evaluated in this process: one job, or one dataset;
    ``waiting(items, seconds)`` every ``heartbeat_s`` without a finished dataset, when they are evaluated
    in worker processes)::

        {"nab": {"standard", "reward_low_fp", "reward_low_fn"} | None, "nab_detail": {...},
         "records": [...], "record_accuracy": {...}, "runs": [...], "fleet": {folder: summary},
         "settings": {"engine", "monitor_config", "model_config", "scalar_detector", "foreshock_version"},
         "elapsed_s": float}
    """
    t0 = time.perf_counter()
    order = sorted(items, key=_size, reverse=True)
    done: dict[Path, Any] = {}
    n = len(order)
    if jobs <= 1 or n <= 1:
        for k, item in enumerate(order, start=1):
            _, res, dt = evaluate_item(item, options, None if within is None else partial(within, item))
            done[item.path] = res
            if progress:
                progress(k, n, item, dt)
    else:
        for k, (item, res, dt) in enumerate(_in_workers(order, options, min(jobs, n), waiting, heartbeat_s),
                                            start=1):
            done[item.path] = res
            if progress:
                progress(k, n, item, dt)
    report = _assemble(items, done, options)
    report["elapsed_s"] = round(time.perf_counter() - t0, 2)
    return report


def _assemble(items: list[Item], done: dict[Path, Any], options: Options = _DEFAULTS) -> dict[str, Any]:
    nab_items = [i for i in items if i.kind == "nab"]
    report: dict[str, Any] = {"nab": None, "nab_detail": None, "records": [], "record_accuracy": {},
                              "runs": [], "fleet": {}}
    if nab_items:
        keys = [_nab_key(i.path) for i in nab_items]  # a series of one name in two corpora (a copy): two series
        corpus = {(k if keys.count(k) == 1 else str(i.path)): done[i.path] for i, k in zip(nab_items, keys)}
        res = score_corpus(corpus)
        report["nab"] = {name: round(r.score, 2) for name, r in res.items()}
        report["nab_detail"] = {
            "detector": ("detectors.scalar.ScalarAnomaly (defaults)" if options.scalar_detector == BUILTIN_SCALAR
                         else options.scalar_detector),
            "series": len(corpus),
            "windows": sum(len(s.windows) for s in corpus.values()),
            "profiles": {name: {"threshold": r.threshold, "raw": round(r.raw, 4), "null": round(r.null, 4),
                                "perfect": round(r.perfect, 4), "windows_detected": r.tp, "windows_missed": r.fn,
                                "false_positive_rows": r.fp,
                                "per_series_raw": {k: round(v, 4) for k, v in sorted(r.per_series.items())}}
                         for name, r in res.items()},
        }
    # "source": the file, which tells apart two runs of one name (the same unit ids in two fleets)
    report["records"] = [{**done[i.path], "source": str(i.path)} for i in items if i.kind == "record"]
    report["record_accuracy"] = accuracy(report["records"])
    report["runs"] = [{**done[i.path], "source": str(i.path)} for i in items if i.kind in ("run", "series")]
    if options.monitor_config and report["runs"]:
        report["monitor_config"] = options.config()  # the runs were judged with these settings
    fleets: dict[Path, list[dict[str, Any]]] = {}
    for i in items:
        if i.kind == "run" and i.fleet is not None:
            fleets.setdefault(i.fleet, []).append(done[i.path])
    short = [folder.name for folder in fleets]  # a folder's name, or its path where two fleets share a name
    report["fleet"] = {(folder.name if short.count(folder.name) == 1 else str(folder)):
                       {**fleet_mod.summarise(runs), "units_without_run": _without_run(folder)}
                       for folder, runs in fleets.items()}
    report["settings"] = settings_of(options)
    return report


def _without_run(folder: Path) -> list[str]:
    """The units of a fleet's ``truth.json`` with no run file in its folder: the simulator writes none
    for a unit that sent no snapshot (silent, stopped or failed throughout), which the summary cannot score."""
    try:
        doc = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        ids = [str(u["unit_id"]) for u in doc["units"]]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return []  # not a truth this harness can read: the runs found are all it knows of the fleet
    return [u for u in ids if not (folder / f"{u}.npz").is_file()]


def settings_of(options: Options = _DEFAULTS) -> dict[str, Any]:
    """What a report was measured with, so that two reports can be compared: every engine setting
    (the defaults and ``monitor_config`` over them), the settings of single models over those (each
    run's own are its ``engine_overrides``), the scalar detector and the release."""
    from foreshock import __version__

    return {"engine": MonitorConfig.from_overrides(options.config()).as_dict(), "monitor_config": options.config(),
            "model_config": options.models(), "scalar_detector": options.scalar_detector,
            "foreshock_version": __version__}


def _nab_key(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"
