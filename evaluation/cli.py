"""``foreshock evaluate PATH... [--json FILE]``: measure the detectors on datasets (see :mod:`evaluation.harness`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaluation.discover import Item, discover, model_of
from evaluation.harness import WorkerDied, evaluate
from evaluation.options import DetectorFailed, OptionError, Options
from evaluation.report import render
from foreshock.cli import CliError
from foreshock.datasets import DatasetError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure the detectors on datasets (NAB, CWRU, FEMTO, IMS, simulator runs)",
        description="Stream every dataset under PATH through the detectors (each observation scored "
                    "before it is learnt), print a report and optionally write it as JSON.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="dataset files or folders")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON here ('-' for stdout)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: the number of CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--field", action="store_true",
                   help="also report the precision of warnings in the field: the closure feedback "
                        "(confirmed / false alarm) recorded on tickets in the configured database")
    p.add_argument("--scalar-detector", metavar="MODULE:NAME",
                   help="score the NAB series with your own detector instead of the built-in one: a class or "
                        "function (in an importable module, or FILE.py:NAME) giving an object with "
                        "score_one(x) and learn_one(x), x = {'value': v} (river's anomaly protocol), "
                        "e.g. river.anomaly:HalfSpaceTrees")
    p.add_argument("--monitor-config", metavar="KEY=VALUE|FILE.json", action="append",
                   help="judge runs and failure series with these engine settings (the fields of a model's "
                        "detector_config, docs/detectors.md), e.g. failure_peak_g=20: the machine's functional-failure "
                        "level (a snapshot's peak, g), counted to by the time to failure and alarmed on; repeatable")
    p.add_argument("--model-config", metavar="MODEL:KEY=VALUE|MODEL:FILE.json", action="append",
                   help="like --monitor-config, for the runs of one machine model only (their sidecar's model, "
                        "as the simulator writes it), over --monitor-config: what a model's detector_config "
                        "would do; repeatable")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE.json", "AFTER.json"),
                   help="compare two JSON reports written by --json (e.g. the defaults and a --monitor-config "
                        "change): the settings that differ and every figure that changed; no PATH")
    p.set_defaults(func=run, needs_settings=False)


def field_report(config: str | None) -> dict[str, Any]:
    """Precision of the warnings that reached the field, from the tickets' closure feedback."""
    from alerts.reports import field_precision
    from foreshock.db import make_engine, migrate, session_factory
    from foreshock.settings import load_settings

    settings = load_settings(config)
    _check_database_exists(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        return field_precision(session_factory(engine))
    finally:
        engine.dispose()


def _check_database_exists(url: str) -> None:
    """A SQLite database that is not there is refused: opening it would make an empty one (and its
    folder), whose report of no feedback reads as the field's."""
    from sqlalchemy.engine import make_url

    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:  # the settings checked the URL; the engine will say what is wrong
        return
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    if not Path(parsed.database).is_file():
        raise CliError(f"--field: there is no database at {parsed.database} (settings database.url / data_dir): "
                       "give the service's settings with --config")


def render_field(field: dict[str, Any]) -> str:
    lines = ["Field feedback (closure verdicts on tickets)"]
    rows = [("all", field.get("all", {}))] + sorted((field.get("by_failure_mode") or {}).items())
    for name, r in rows:
        p = r.get("precision")
        lines.append(f"  {name:<14} confirmed {r.get('confirmed', 0):>4}  false alarms {r.get('false_alarm', 0):>4}"
                     f"  precision {'-' if p is None else f'{p:.2f}'}")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Any) -> int:
    if args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")
    if args.compare:
        return _compare(args)
    if not args.paths and not args.field:
        raise CliError("give at least one dataset PATH, or --field for the precision of warnings in the field")
    if args.json != "-":
        return _run(args)
    with _stdout_kept_for_the_report():
        report = _run(args, to_stdout=True)
    json.dump(report, sys.stdout, indent=2, default=str)
    print()
    return 0


@contextlib.contextmanager
def _stdout_kept_for_the_report() -> Iterator[None]:
    """With ``--json -`` stdout carries the report alone: what a user's detector prints (in this process
    or a worker's, from Python or native code) goes to stderr meanwhile; it made the JSON unreadable."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _run(args: argparse.Namespace, to_stdout: bool = False) -> Any:
    """Evaluate and print the report (``to_stdout``: return it, for ``--json -``, instead)."""
    try:
        options = Options.parse(args.scalar_detector, args.monitor_config, args.model_config)
    except OptionError as exc:
        raise CliError(str(exc)) from None
    _check_json_target(args.json)
    field = field_report(getattr(args, "config", None)) if args.field else None
    if not args.paths:
        report: dict[str, Any] = {"field": field}
        if to_stdout:
            return report
        print(render_field(field or {}))
        _write_json(args.json, report)
        return 0
    skipped: list[Path] = []
    fleet_series: list[Path] = []
    try:
        items = discover(args.paths, skipped, fleet_series)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if fleet_series and (not items or not args.quiet):
        shown = ", ".join(str(f) for f in fleet_series[:3]) + (
            f" and {len(fleet_series) - 3} more" if len(fleet_series) > 3 else "")
        said = (f"{shown}: telemetry series of a simulated fleet (the folder holds truth.json), not evaluated on "
                "their own: a fleet is scored on its runs (UNIT.npz); give those or the folder")
        if not items:
            raise CliError(said)
        print(f"left out {said}", file=sys.stderr, flush=True)
    if skipped and not args.quiet:
        shown = ", ".join(str(f) for f in skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        print(f"skipped {len(skipped)} file(s) in no dataset format read here (a .csv series, an .npz record or "
              f"run with its .json sidecar): {shown}", file=sys.stderr, flush=True)
    if not items:
        raise CliError(f"no dataset found under {', '.join(args.paths)}")
    _check_options_apply(args, items, options)

    def progress(k: int, n: int, item: Item, seconds: float) -> None:
        if not args.quiet:
            print(f"[{k}/{n}] {item.kind:<6} {item.name} ({seconds:.1f} s)", file=sys.stderr, flush=True)

    last = [time.monotonic()]

    def within(item: Item, done: int, total: int) -> None:
        # a long run fed in this process: a line at most every 2 s, so that a long evaluation is seen moving
        if not args.quiet and done and time.monotonic() - last[0] >= 2.0:
            last[0] = time.monotonic()
            what = "rows" if item.kind == "nab" else "snapshots"
            print(f"       {item.name}: {done}/{total} {what}", file=sys.stderr, flush=True)

    def waiting(running: list[Item], seconds: float) -> None:
        # datasets in worker processes: a line every 10 s in which none finished, naming those still fed
        if not args.quiet and running:
            names = ", ".join(i.name for i in running)
            print(f"       still evaluating {names} ({seconds:.0f} s so far)", file=sys.stderr, flush=True)

    try:
        report = evaluate(items, jobs=args.jobs, progress=progress, options=options, within=within,
                          waiting=waiting)
    except (DatasetError, DetectorFailed, WorkerDied) as exc:
        raise CliError(str(exc)) from None
    if field is not None:
        report["field"] = field
    if to_stdout:
        return report
    print(render(report))
    if field is not None:
        print(render_field(field))
    _write_json(args.json, report)
    return 0


def _compare(args: argparse.Namespace) -> int:
    """``--compare BEFORE AFTER``: two saved reports side by side (nothing is evaluated)."""
    from evaluation.compare import CompareError, compare, load_report, render_comparison

    extra = [name for name, given in (("PATH", args.paths), ("--field", args.field),
                                      ("--monitor-config", args.monitor_config),
                                      ("--model-config", args.model_config),
                                      ("--scalar-detector", args.scalar_detector)) if given]
    if extra:
        raise CliError(f"--compare compares two saved reports; {', '.join(extra)} cannot be given with it (evaluate "
                       "each setting with --json FILE first, then compare the two files)")
    _check_json_target(args.json)
    if args.json and args.json != "-" and any(Path(args.json).resolve() == Path(p).resolve() for p in args.compare):
        raise CliError(f"--json {args.json}: is one of the two reports compared; it would be overwritten by the "
                       "comparison: give another file name")
    try:
        before, after = (load_report(p) for p in args.compare)
    except CompareError as exc:
        raise CliError(f"--compare: {exc}") from None
    result = {"before": args.compare[0], "after": args.compare[1], **compare(before, after)}
    if args.json == "-":
        json.dump(result, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(render_comparison(result, *args.compare))
    _write_json(args.json, result)
    return 0


def _check_options_apply(args: argparse.Namespace, items: list[Item], options: Options) -> None:
    """Refuse an option that would not be used on any of the datasets found: the report would
    otherwise read as a measurement of it."""
    kinds = {i.kind for i in items}
    where = ", ".join(args.paths)
    if args.scalar_detector and "nab" not in kinds:
        raise CliError(f"--scalar-detector scores NAB-labelled series only (a folder with data/ and "
                       f"labels/combined_windows.json, as NAB ships it); there are none under {where}")
    if args.monitor_config and not kinds & {"run", "series"}:
        raise CliError(f"--monitor-config judges runs to failure and failure series only (FEMTO, IMS, simulated "
                       f"runs); there are none under {where}: NAB series and CWRU records are scored without it")
    if args.model_config:
        found = {model_of(i) for i in items if i.kind in ("run", "series")} - {None}
        for model in options.models():
            if model not in found:
                raise CliError(f"--model-config {model}: no run or series of that model among the datasets "
                               f"(their models: {', '.join(sorted(found)) or 'none named'})")


def _check_json_target(path: str | None) -> None:
    """Refuse a ``--json`` file that cannot be written before evaluating (which may take minutes)."""
    if not path or path == "-":
        return
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        raise CliError(f"--json {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise CliError(f"--json {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CliError(f"--json {path}: cannot be written (permission denied)")
    if p.exists() and not p.is_file():
        return  # a pipe or a device (/dev/stdout): written in place
    if p.is_file() and p.stat().st_size and not _is_report(p):
        # a dataset's sidecar (runs/P-1.json), a --monitor-config file: replaced by the report, and lost
        raise CliError(f"--json {path}: exists and is not a report of foreshock evaluate (a dataset's sidecar, a "
                       "settings file?): it would be overwritten; give another file name")
    try:  # what the report will do: a file made in the folder (/proc, a read-only mount refuse it, even to root)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CliError(f"--json {path}: cannot be written: no file can be made in {folder} "
                       f"({exc.strerror or exc})") from None


def _is_report(p: Path) -> bool:
    """A file ``--json`` (or ``--compare --json``) wrote before, which a new report may replace."""
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and ("settings" in doc or "field" in doc or {"before", "after"} <= doc.keys()
                                      or {"runs", "records", "nab"} <= doc.keys())


def _write_json(path: str | None, report: dict[str, Any]) -> None:
    """Write the report whole or not at all: into a temporary file beside ``path``, renamed over it
    once complete, so that a full disk or a Ctrl-C never leaves half a report (or half of the
    previous one's place). A pipe or a device is written in place."""
    if not path:
        return
    p = Path(path)
    try:
        if p.exists() and not p.is_file():
            with open(p, "w", encoding="utf-8") as fh:
                json.dump(report, fh, indent=2, default=str)
            return
        target = p.resolve() if p.is_symlink() else p  # the file a link points to is replaced, not the link
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise CliError(f"{path}: cannot write the JSON report: {exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=str)
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CliError(f"{path}: cannot write the JSON report: {exc}") from None
        raise


def _mode_for(target: Path) -> int:
    """The permissions the report would have had written in place: the previous file's, else the umask's."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
