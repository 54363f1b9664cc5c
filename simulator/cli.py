"""``foreshock simulate``: publish a simulated fleet over MQTT, write it to files, or replay a dataset.

    foreshock simulate fleet.toml --speed 1440               # the fleet's duration, one sim day a minute
    foreshock simulate demo --duration 6h --speed 720        # the built-in demo fleet
    foreshock simulate fleet.toml --out runs/ --seed 7       # the same streams into dataset files
    foreshock simulate --replay ../shared/datasets/femto/Bearing1_1 --device FEMTO-1 --speed 100

``--duration`` is *simulated* time (``"2d"``, ``"6h"``, seconds); at ``--speed N`` publishing takes
duration / N of wall time. Publishing goes to ``mqtt.url``; each unit uses the credentials of the
fleet file, else ``mqtt.username`` / ``mqtt.password``. The ground truth goes to ``--truth``
(default: ``truth.json`` in ``--out``, else printed to stdout at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from foreshock.cli import CliError
from foreshock.datasets import DatasetError
from foreshock.settings import Settings

__all__ = ["register"]

# the latest sim time a run may reach: 9999-12-31 23:59:59.999 UTC (dates and stamps stay readable)
_LAST_MS = 253_402_300_799_999


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a fleet over MQTT or into files; replay a dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "fleet", nargs="?", metavar="FLEET.toml", help="fleet file, or 'demo' for the built-in demo fleet"
    )
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second (default 1)")
    p.add_argument("--duration", help="simulated time to cover, e.g. 2d, 6h, 3600 (default: the fleet's; "
                   "with --replay: the dataset's first DURATION)")
    p.add_argument("--seed", type=int, help="override the fleet file's seed")
    p.add_argument(
        "--start",
        help="sim clock start: epoch ms or ISO time (default: accelerated runs end now, speed 1 starts now)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="write run + series files and truth.json instead of publishing"
    )
    p.add_argument("--truth", metavar="FILE", help="write the ground truth JSON here")
    p.add_argument("--qos", type=int, choices=[0, 1], default=1, help="MQTT QoS of telemetry and snapshots")
    p.add_argument(
        "--replay", metavar="DATASET", help="replay a dataset (series, record or run) as one device"
    )
    p.add_argument("--device", metavar="ID", help="device id for --replay")
    p.add_argument("--value-name", metavar="NAME", help="--replay of a series: value name (default: value)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _start_ms(text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        ms = int(text)
    else:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"--start: {text!r} is neither epoch milliseconds nor an ISO time") from None
        ms = int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)
    if not 0 <= ms <= _LAST_MS:
        raise CliError(f"--start: {text!r} is outside 1970-01-01 .. 9999-12-31 (epoch ms 0 .. {_LAST_MS})")
    return ms


# the platform refuses stamps more than 5 minutes ahead of its clock, and a message is published only
# once the wall clock reaches its stamp: a later --start would wait (silently, for as long as it is ahead)
_FUTURE_S = 300


def _publish_start(start_ms: int | None, text: str | None) -> None:
    """Refuse a ``--start`` in the future when publishing (files may start whenever they like)."""
    import time

    if start_ms is not None and start_ms > (time.time() + _FUTURE_S) * 1000:
        raise CliError(f"--start {text}: is in the future; publishing would wait until then (the platform "
                       f"refuses stamps more than {_FUTURE_S} s ahead). Give a past start, or --out DIR for files")


def _say_if_paced(start_ms: int | None, sim_s: float, speed: float) -> None:
    """An accelerated run from a ``--start`` whose end is ahead of now goes at speed 1 once its clock
    reaches the wall clock (stamps are never sent early): said now, with how long it will take."""
    import time

    now_ms = time.time() * 1000
    if start_ms is None or speed <= 1 or start_ms + sim_s * 1000 <= now_ms + 1000:
        return
    ahead_s = (start_ms + sim_s * 1000 - now_ms) / 1000
    print(f"foreshock: note: this run ends {_span(ahead_s)} ahead of now: it goes at speed 1 once the simulated clock "
          "reaches the wall clock (a message is sent only once its stamp has come), so it takes about "
          f"{_span(ahead_s)}, not {_span(sim_s / speed)}; an earlier --start (or none: an accelerated run then ends "
          "now) keeps it at --speed", file=sys.stderr, flush=True)


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _check_end(start_ms: int | None, sim_s: float) -> None:
    """A run must end by 9999-12-31: refused before anything is simulated."""
    if start_ms is not None and start_ms + sim_s * 1000 > _LAST_MS:
        raise CliError(f"--start with a duration of {sim_s:g} s would run past 9999-12-31")


def _duration(text: str | None) -> float | None:
    """``--duration`` in seconds (positive), or None when not given."""
    if text is None:
        return None
    from simulator.fleet import parse_duration
    from simulator.models import FleetError

    try:
        seconds = parse_duration(text, "--duration")
    except FleetError as exc:
        raise CliError(str(exc)) from None
    if seconds <= 0:
        raise CliError("--duration must be positive")
    return seconds


def _output_dir(path: str) -> None:
    """Check that ``--out`` can hold the files, before simulating; nothing is created here (the
    folder is made when the first unit is written, so that a refused run leaves nothing behind)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CliError(f"--out {path}: exists and is not a folder")
    if p.is_dir():
        held = sorted(f.name for f in p.iterdir())
        if held:  # another run's units would be overwritten, or left beside this run's truth.json
            raise CliError(f"--out {path}: the folder is not empty ({len(held)} entries, e.g. {held[0]}); a run is "
                           "written into a new or empty folder, so that it is not mixed with another")
    _check_creatable(p, "--out", path, "the folder")


def _truth_file(path: str, out: str | None, unit_ids: list[str]) -> None:
    """Check ``--truth`` can be written before publishing (the truth is written at the end); nothing
    is created here. With ``--out`` it may not name the folder or a file of the run written there."""
    from simulator.files import unit_file_names

    p = Path(path)
    if out is not None and p.resolve() == Path(out).resolve():
        raise CliError(f"--truth {path}: is the --out folder; give a file name")
    if p.is_dir():
        raise CliError(f"--truth {path}: is a folder; give a file name")
    if out is not None and p.resolve().parent == Path(out).resolve():
        for unit_id in unit_ids:  # the run's own files: the truth would replace a sidecar, and the run be unreadable
            if p.name in unit_file_names(unit_id):
                raise CliError(f"--truth {path}: is a file this run writes into --out (unit {unit_id}'s); give "
                               "another name (the truth is also written to truth.json there)")
    if p.is_file() and p.stat().st_size and not _is_truth(p):  # the fleet file itself was replaced by its truth
        raise CliError(f"--truth {path}: exists and is not a ground truth written by foreshock simulate (the fleet "
                       "file, a dataset?): it would be overwritten; give another file name")
    _check_creatable(p.parent, "--truth", path, "its folder")


def _check_creatable(folder: Path, option: str, given: str, what: str) -> None:
    """``folder`` exists and is writable, or can be made (its nearest existing ancestor is a writable
    folder): checked without creating anything."""
    base = folder.absolute()
    while not base.exists() and not base.is_symlink() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise CliError(f"{option} {given}: cannot create {what}: {base} is not a folder", exit_code=1)
    _check_writable(base, option, given)


def _is_truth(p) -> bool:
    """A ground truth file of an earlier run, which a new one may replace."""
    import json

    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and {"units", "start_ms"} <= doc.keys()


def _check_writable(folder, option: str, given: str) -> None:
    import os
    import tempfile

    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"{option} {given}: the folder {folder} is not writable", exit_code=1)
    try:  # what the run will do at its end: /proc, a read-only mount refuse it, even to root
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CliError(f"{option} {given}: no file can be made in {folder} ({exc.strerror or exc})",
                       exit_code=1) from None


def _printer(quiet: bool):
    def show(stats: dict[str, Any]) -> None:
        if quiet:
            return
        if "connecting" in stats:
            line = f"connecting units to the broker: {stats['connecting']:,} of {stats['of']:,} answered"
        elif "unit_hours" in stats:
            line = (
                f"unit {stats['unit_n']}/{stats['units']} {stats['unit_id']}: "
                f"{stats['unit_hours']:.1f} of {stats['of_hours']:.1f} simulated hours"
            )
        elif "units_done" in stats:
            line = (
                f"unit {stats['units_done']}/{stats['units']} {stats['unit_id']}: "
                f"{stats['records']} records, {stats['snapshots']} snapshots"
            )
        elif "sim_ms" in stats:
            sim = datetime.fromtimestamp((stats["sim_ms"] or 0) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            line = (
                f"sim {sim} (+{stats.get('sim_hours', 0):.2f} h)  messages {stats['messages']} "
                f"({stats['msg_per_s']:.0f}/s)  snapshots {stats['snapshots']}  "
                f"units {stats['units_connected']}  behind {stats['behind_s']:.1f} s"
            )
        else:
            line = f"replayed {stats['messages']}/{stats['total']} messages"
        print(line, file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simulator.fleet import demo_fleet, load_fleet
    from simulator.models import FleetError
    from simulator.mqttpool import PublishError

    if not (math.isfinite(args.speed) and args.speed > 0):
        raise CliError(f"--speed must be a positive number, got {args.speed:g}")
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed must be a non-negative integer, got {args.seed}")
    user = settings.mqtt.username
    password = settings.mqtt.password.get_secret_value() if settings.mqtt.password else None
    stop = threading.Event()
    written: list[int] = []  # with --out: units written whole so far (the last entry)
    try:
        if args.replay:
            return _replay(args, settings, user, password, stop)
        if not args.fleet:
            raise CliError("give a fleet file (or 'demo'), or --replay DATASET --device ID")
        for name, value in (("--device", args.device), ("--value-name", args.value_name)):
            if value is not None:
                raise CliError(f"{name} is for --replay; a fleet's units are named in the fleet file")
        duration_s = _duration(args.duration)
        start = _start_ms(args.start)
        fleet = demo_fleet(args.seed or 0) if args.fleet == "demo" else load_fleet(args.fleet, seed=args.seed)
        sim_s = duration_s if duration_s is not None else fleet.duration_s
        _check_end(start, sim_s)
        if args.out:
            _output_dir(args.out)
            from simulator.files import file_clashes

            clashes = file_clashes(fleet)
            if clashes:  # valid device ids, published as they are; as files they would overwrite each other
                raise CliError(f"--out {args.out}: {clashes[0]}; rename the unit to write the fleet to files"
                               + (f" ({len(clashes) - 1} more such unit(s))" if len(clashes) > 1 else ""))
            _check_memory(fleet, sim_s, args.out)
        else:
            _publish_start(start, args.start)
            _say_if_paced(start, sim_s, args.speed)
        if args.truth:
            _truth_file(args.truth, args.out, [u.unit_id for u in fleet.units])
        if args.out:
            import time

            from simulator.files import write_fleet_files

            start = start if start is not None else int(time.time() * 1000 - sim_s * 1000)  # ends now
            show = _printer(args.quiet)
            written.append(0)

            def progress(stats: dict[str, Any]) -> None:
                if "units_done" in stats:
                    written.append(stats["units_done"])
                show(stats)

            with _made_only_if_written(args.out):
                truth = write_fleet_files(fleet, args.out, start_ms=start, duration_s=sim_s, progress=progress)
        else:
            from simulator.publisher import FleetPublisher

            pub = FleetPublisher(
                fleet,
                settings.mqtt.url,
                speed=args.speed,
                start_ms=start,
                username=user,
                password=password,
                progress=_printer(args.quiet),
                connect_progress=_printer(args.quiet),
                qos=args.qos,
                topic_root=settings.mqtt.topic_root,
            )
            with _first_ctrl_c_stops(stop):
                truth = pub.run(sim_s / args.speed, stop)
    except FleetError as exc:
        raise CliError(f"fleet {args.fleet}: {exc}") from None
    except PublishError as exc:
        raise CliError(f"MQTT {settings.mqtt.url}: {exc}", exit_code=3) from None
    except KeyboardInterrupt:
        stop.set()
        if args.out and written:
            _say_what_out_holds(args.out, written[-1], len(fleet.units))
        raise
    if args.truth:
        try:
            truth.write(args.truth)
        except OSError as exc:  # checked before the run; the disk may have filled since
            raise CliError(f"--truth {args.truth}: cannot write the ground truth: {exc.strerror or exc}",
                           exit_code=1) from None
    elif not args.out:
        print(json.dumps(truth.to_dict(), indent=2))
    failed = len(truth.failed())
    if stop.is_set():  # Ctrl-C while publishing: what was sent is the service's data, its truth is kept
        hours = (truth.end_ms - truth.start_ms) / 3.6e6
        print(f"foreshock: interrupted after {hours:.2f} simulated hours of {sim_s / 3600:.2f}; the truth up to "
              f"there is {'in ' + args.truth if args.truth else 'above'} ({failed} units failed by then)",
              file=sys.stderr)
        return 130
    print(f"simulated {len(fleet.units)} units; {failed} failed within the run", file=sys.stderr)
    return 0


_FEWER = "shorten --duration, lengthen snapshot_interval or lower the sensor's n"


def _available_memory() -> int | None:
    """Bytes of memory available for new work (Linux ``MemAvailable``), or None where it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_memory(fleet: Any, sim_s: float, out: str) -> None:
    """With ``--out`` each unit's snapshots are held in memory until its run file is written: a unit that
    cannot fit is refused now, rather than after minutes of simulating (a MemoryError, or the kernel's kill)."""
    from simulator.files import largest_unit

    unit_id, snapshots, need = largest_unit(fleet, sim_s)
    available = _available_memory()
    if available is not None and need > available:
        n = next(u.model.sensor.n for u in fleet.units if u.unit_id == unit_id)
        raise CliError(f"--out {out}: unit {unit_id} would hold up to {snapshots:,} snapshots of {n} samples in memory "
                       f"while it is written (about {_size(need)}; {_size(available)} available): {_FEWER}")


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


@contextmanager
def _made_only_if_written(out: str) -> Iterator[None]:
    """Around writing ``--out``: the folders it makes are removed again if the run fails before a
    unit is written whole (a full disk, Ctrl-C), and an OS error is said naming the option."""
    made: list[Path] = []
    p = Path(out).absolute()
    while not p.exists() and p != p.parent:
        made.append(p)  # deepest first: removed in this order
        p = p.parent
    try:
        yield
    except BaseException as exc:
        for folder in made:
            try:
                folder.rmdir()  # only when empty: whole units written before the failure stay
            except OSError:
                break
        if isinstance(exc, OSError):
            raise CliError(f"--out {out}: cannot write the run's files: {exc.strerror or exc}", exit_code=1) from None
        if isinstance(exc, MemoryError):
            raise CliError(f"--out {out}: out of memory writing {exc}: {_FEWER}", exit_code=1) from None
        raise


@contextmanager
def _first_ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While publishing, the first Ctrl-C (SIGINT) stops the run where it is, as the end of its
    duration would: the units say offline and the truth of what was sent is still written. A second
    one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("foreshock: stopping; Ctrl-C again to stop at once", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _say_what_out_holds(out: str, done: int, units: int) -> None:
    """After Ctrl-C with ``--out``: the whole units written so far are there, the run is not complete."""
    if not done and not Path(out).exists():
        print(f"foreshock: {out}: interrupted before a unit was written whole: nothing was kept (the folder made "
              "for the run was removed)", file=sys.stderr)
        return
    print(f"foreshock: {out}: interrupted: {done} of {units} units written whole (the one being written was "
          "removed); no truth.json, as the run is not complete: write it again into an empty folder",
          file=sys.stderr)


def _replay(
    args: argparse.Namespace,
    settings: Settings,
    user: str | None,
    password: str | None,
    stop: threading.Event,
) -> int:
    from devices.protocol import RESERVED_VALUE_NAMES, is_valid_device_id, is_valid_value_name
    from simulator.mqttpool import PublishError
    from simulator.replay import replay_dataset

    if not args.device:
        raise CliError("--replay needs --device ID (the device id to publish as)")
    if not is_valid_device_id(args.device):
        raise CliError(f"--device {args.device!r}: not a valid device id (letters, digits, _.:-, starting with a "
                       "letter or digit; at most 64)")
    if args.value_name is not None and not is_valid_value_name(args.value_name):
        raise CliError(f"--value-name {args.value_name!r}: not a value name the device protocol allows (lower-case "
                       "letters, digits and _, starting with a letter; at most 64; not a reserved name: "
                       f"{', '.join(sorted(RESERVED_VALUE_NAMES))})")
    ignored = [name for name, value in (("a fleet file", args.fleet), ("--out", args.out), ("--truth", args.truth),
                                        ("--seed", args.seed)) if value is not None]
    if ignored:
        raise CliError(f"{', '.join(ignored)}: not used by --replay (it publishes one dataset as one device)")
    duration_s = _duration(args.duration)
    start_ms = _start_ms(args.start)
    _publish_start(start_ms, args.start)
    try:
        stats = replay_dataset(
            args.replay,
            settings.mqtt.url,
            args.device,
            speed=args.speed,
            start_ms=start_ms,
            username=user,
            password=password,
            stop_event=stop,
            progress=_printer(args.quiet),
            topic_root=settings.mqtt.topic_root,
            value_name=args.value_name,
            duration_s=duration_s,
        )
    except DatasetError as exc:
        raise CliError(f"--replay: {exc}") from None
    except ValueError as exc:
        raise CliError(f"--replay {args.replay}: {exc}") from None
    except PublishError as exc:  # the broker, not the arguments: the exit code of a fleet's publishing
        raise CliError(f"--replay {args.replay}: MQTT {settings.mqtt.url}: {exc}", exit_code=3) from None
    print(
        f"replayed {stats['messages']} messages as {args.device} in {stats['elapsed_s']:.1f} s",
        file=sys.stderr,
    )
    return 0
