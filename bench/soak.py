"""Soak: the simulator drives 1,000+ units through the whole pipeline at accelerated time.

One ``Pipeline`` (ingest, detection, alerts; no API) runs in this process against a Mosquitto
started for the run and the embedded telemetry store; the simulator (``FleetPublisher``) runs in a
separate process at ``--speed`` times real time. Every ``--window`` wall seconds the pipeline's
resident memory, its message rate and the latency of the window are sampled. Latency is measured
from the MQTT callback (``received_at``) to the end of the detection hook, i.e. stored durably,
assessed and alerted.

The baseline is measured in the same run: the first window after ``--warmup`` seconds (by then
every unit has sent its first snapshot and has a detector). The soak reports ``late / early``
ratios (1.0 = flat) of memory (the last window while the simulator still publishes over the
first) and of p99 latency (the median p99 of the last third of the windows over the first
third). At the end it counts what the simulator sent, what ingest acknowledged, accepted and
rejected (by reason), the rows in the store, and the loss (sent - acknowledged).

    .venv/bin/python bench/soak.py [--units 1000] [--duration 180] [--speed 6] [--window 10]

A long soak: ``--duration 3600``. Results are appended to ``bench/results/soak.json``; a markdown
table is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import multiprocessing as mp
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import psutil

from foreshock.broker import MosquittoBroker
from foreshock.service import Pipeline, PipelineOptions
from foreshock.settings import load_settings

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"
log = logging.getLogger("bench.soak")


def fleet_doc(units: int) -> dict:
    return {
        "seed": 7,
        "telemetry_interval": "10s",
        "snapshot_interval": "5m",
        "models": {"P-2560": {"base": "P-1800", "sensor": {"fs": 25600.0, "n": 2560, "noise_g": 0.08}}},
        "groups": [{"prefix": "S-", "count": units, "model": "P-2560", "fault_probability": 0.05,
                    "fault_kinds": ["outer_race", "inner_race"], "onset": ["0h", "1h"], "ttf": ["2h", "6h"]}],
    }


def _publish(url: str, units: int, speed: float, duration: float, out) -> None:
    """The simulator, in its own process: publish for ``duration`` wall seconds, report its counts."""
    from simulator.fleet import load_fleet
    from simulator.publisher import FleetPublisher

    logging.basicConfig(level=logging.WARNING)
    pub = FleetPublisher(load_fleet(fleet_doc(units)), url, speed=speed)
    pub.run(duration)
    out.put({"messages": pub.stats["messages"], "snapshots": pub.stats["snapshots"],
             "behind_s": pub.stats["behind_s"], "status_messages": 2 * units})


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def _median_of(windows: list[dict], key: str) -> float | None:
    values = [w[key] for w in windows if w.get(key) is not None]
    return round(float(np.median(values)), 1) if values else None


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="foreshock-soak-"))
    broker = MosquittoBroker(workdir=work / "mqtt").start()
    settings = load_settings(
        data_dir=work / "data", log_level="WARNING",
        mqtt={"url": broker.url, "client_id": f"soak-{uuid.uuid4().hex[:6]}"},
        ingest={"auto_register": True},
    )
    pipeline = Pipeline(settings, PipelineOptions(api=False, tick_interval_s=10.0, freeze_gc=not args.no_gc_freeze))
    latencies: list[float] = []
    lock = threading.Lock()
    detect = pipeline.detection.on_batch

    def timed(messages: list) -> None:
        detect(messages)
        now = time.time()
        with lock:
            latencies.extend(now - m.received_at for m in messages)

    pipeline.ingest.on_batch = timed
    # what else takes the GIL: garbage collections (per generation) and detector-state flushes
    pauses: dict[str, list[float]] = {"gc0": [], "gc1": [], "gc2": [], "flush": [], "serialise": [], "write": []}
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses[f"gc{info['generation']}"].append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)
    def timer(name: str, fn):
        def timed_fn(*a):
            t = time.perf_counter()
            try:
                return fn(*a)
            finally:
                pauses[name].append(time.perf_counter() - t)
        return timed_fn

    stage = pipeline.detection  # a flush = serialising the changed units' state, then writing it
    stage.flush = timer("flush", stage.flush)  # type: ignore[method-assign]
    stage._collect = timer("serialise", stage._collect)  # type: ignore[method-assign]
    stage._write_states = timer("write", stage._write_states)  # type: ignore[method-assign]
    pipeline.start()
    proc = psutil.Process()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    publisher = ctx.Process(target=_publish, args=(broker.url, args.units, args.speed, args.duration, out))
    t0 = time.time()
    publisher.start()
    windows: list[dict] = []
    metrics = pipeline.ingest.metrics
    last_acked, last_t = 0, t0
    while publisher.is_alive() or not windows:
        time.sleep(args.window)
        now = time.time()
        with lock:
            lat, latencies[:] = list(latencies), []
        took = {k: list(v) for k, v in pauses.items()}
        for v in pauses.values():
            v.clear()
        acked = metrics.get("acked")
        windows.append({"t_s": round(now - t0, 1), "publishing": publisher.is_alive(), "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                        "msg_per_s": round((acked - last_acked) / (now - last_t), 1),
                        "latency_ms_p50": _pct(lat, 50), "latency_ms_p99": _pct(lat, 99),
                        "queue": metrics.queue_depth, "load_1m": round(os.getloadavg()[0], 2),
                        "gc2_n": len(took["gc2"]), "gc2_ms_max": _pct(took["gc2"], 100),
                        "gc_ms_total": round(sum(sum(took[k]) for k in ("gc0", "gc1", "gc2")) * 1000, 1),
                        "flush_ms_max": _pct(took["flush"], 100), "serialise_ms_max": _pct(took["serialise"], 100),
                        "write_ms_max": _pct(took["write"], 100)})
        last_acked, last_t = acked, now
        log.info("window %s", windows[-1])
    publisher.join()
    sent = out.get(timeout=30)
    expected = sent["messages"] + sent["status_messages"]
    deadline = time.time() + 120
    while metrics.get("acked") < expected and time.time() < deadline:
        time.sleep(0.5)
    pipeline.stop(30)
    gc.callbacks.remove(on_gc)
    snap = metrics.snapshot()
    with sqlite3.connect(settings.telemetry_path) as db:
        rows = dict(db.execute("SELECT measurement, count(*) FROM points GROUP BY measurement").fetchall())
    broker.cleanup()
    warm = [w for w in windows if w["t_s"] >= args.warmup and w["publishing"] and w["latency_ms_p99"] is not None]
    warm = warm or windows
    early, late = warm[0], warm[-1]
    third = max(1, len(warm) // 3)  # one window's p99 is noisy: compare the medians of the first and last thirds
    p99_early = float(np.median([w["latency_ms_p99"] or 0 for w in warm[:third]]))
    p99_late = float(np.median([w["latency_ms_p99"] or 0 for w in warm[-third:]]))
    result = {
        "bench": "soak",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "sent": expected,
        "sent_detail": sent,
        "received": snap["received"],
        "acked": snap["acked"],
        "accepted": snap["accepted"],
        "rejected": snap["rejected"],
        "lost": expected - snap["acked"],
        "stored_rows": rows,
        "detection": pipeline.detection.stats.as_dict(),
        "baseline_window": early,
        "last_window": late,
        "ratio_rss_late_to_early": round(late["rss_mb"] / early["rss_mb"], 3),
        "p99_ms_median_first_third": round(p99_early, 1),
        "p99_ms_median_last_third": round(p99_late, 1),
        "ratio_p99_late_to_early": round(p99_late / max(p99_early, 1e-9), 3),
        "load_1m_median": round(float(np.median([w["load_1m"] for w in windows])), 2),
        "load_1m_max": max(w["load_1m"] for w in windows),
        "gc2_ms_max": max((w["gc2_ms_max"] or 0 for w in windows), default=0),
        "flush_ms_median_first_third": _median_of(warm[:third], "flush_ms_max"),
        "flush_ms_median_last_third": _median_of(warm[-third:], "flush_ms_max"),
        "serialise_ms_median_first_third": _median_of(warm[:third], "serialise_ms_max"),
        "serialise_ms_median_last_third": _median_of(warm[-third:], "serialise_ms_max"),
        "windows": windows,
    }
    return result


def table(r: dict) -> str:
    lines = ["| window (s) | RSS (MB) | msg/s | p50 (ms) | p99 (ms) | queue | load 1 min | full GCs | longest full GC (ms) "
             "| all GC (ms) | longest state flush (ms) | longest serialisation (ms) | longest state write (ms) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for w in r["windows"]:
        lines.append(f"| {w['t_s']} | {w['rss_mb']} | {w['msg_per_s']} | {w['latency_ms_p50']} | "
                     f"{w['latency_ms_p99']} | {w['queue']} | {w.get('load_1m')} | {w.get('gc2_n')} | "
                     f"{w.get('gc2_ms_max')} | {w.get('gc_ms_total')} | {w.get('flush_ms_max')} | "
                     f"{w.get('serialise_ms_max')} | {w.get('write_ms_max')} |")
    lines.append("")
    lines.append(f"sent {r['sent']}, acknowledged {r['acked']}, accepted {r['accepted']}, rejected {r['rejected']}, "
                 f"lost {r['lost']}; rows {r['stored_rows']}; RSS {r['baseline_window']['rss_mb']} -> "
                 f"{r['last_window']['rss_mb']} MB (late/early {r['ratio_rss_late_to_early']}); p99 (median of the "
                 f"first / last third of the windows) {r['p99_ms_median_first_third']} -> "
                 f"{r['p99_ms_median_last_third']} ms (late/early {r['ratio_p99_late_to_early']}); load average "
                 f"(1 min) median {r['load_1m_median']}, max {r['load_1m_max']}; longest full GC "
                 f"{r['gc2_ms_max']} ms; state flush (longest per window, median) "
                 f"{r['flush_ms_median_first_third']} -> {r['flush_ms_median_last_third']} ms, of which serialising "
                 f"{r['serialise_ms_median_first_third']} -> {r['serialise_ms_median_last_third']} ms; detection "
                 f"{r['detection']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=180.0, help="wall seconds of publishing")
    ap.add_argument("--speed", type=float, default=6.0, help="simulated seconds per wall second")
    ap.add_argument("--window", type=float, default=10.0, help="sampling window (wall seconds)")
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="windows before this are not the baseline (every unit has sent a snapshot by then)")
    ap.add_argument("--no-gc-freeze", action="store_true",
                    help="leave start-up objects to the garbage collector (PipelineOptions.freeze_gc=False)")
    ap.add_argument("--results", type=Path, default=RESULTS,
                    help="JSON file the run is appended to (a diagnostic run can go elsewhere)")
    args = ap.parse_args(argv)
    if args.units < 1 or args.duration <= 0 or args.speed <= 0 or args.window <= 0:
        ap.error("--units, --duration, --speed and --window must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("foreshock", "ingest", "alerts", "devices", "detectors", "simulator", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    result = run(args)
    args.results.parent.mkdir(exist_ok=True)
    history = json.loads(args.results.read_text()) if args.results.exists() else []
    history.append(result)
    args.results.write_text(json.dumps(history, indent=2) + "\n")
    print(table(result))
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
