"""Simulator scale: can one process simulate 10,000 units in real time?

The load of the issue: every unit sends scalar telemetry every 10 s and a 2,560-sample snapshot
(25.6 kHz) every 10 minutes, i.e. 1,000 telemetry messages and ~16.7 snapshots per second.
For each mode we measure how much simulated time one process covers per wall second:
``ratio = simulated seconds / wall seconds`` (ratio >= 1: real time achieved).

- ``baseline``: plain numpy, the same number of Gaussian samples (snapshots and scalars) and nothing
  else: the floor of what any generator of this data costs;
- ``generate``: the simulator's physics and protocol payloads (``FleetStream`` + ``payload()``),
  not sent anywhere;
- ``publish``: the same, published at QoS 1 by one MQTT client per unit (10,000 connections)
  to a local Mosquitto started for the run; the publisher runs flat out (high speed) so its
  throughput, not the clock, sets the pace. Connecting the fleet is timed separately.

    .venv/bin/python bench/simulator_scale.py [--units 10000] [--sim-seconds 600] [--no-publish]

Results are appended to ``bench/results/simulator_scale.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import logging
import os
import platform
import resource
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from foreshock.broker import MosquittoBroker
from simulator.fleet import Fleet, load_fleet
from simulator.publisher import FleetPublisher
from simulator.stream import FleetStream

RESULTS = Path(__file__).resolve().parent / "results" / "simulator_scale.json"
START_MS = 1_700_000_000_000


def make_fleet(units: int) -> Fleet:
    return load_fleet(
        {
            "seed": 1,
            "telemetry_interval": "10s",
            "snapshot_interval": "10m",
            "models": {"P-2560": {"base": "P-1800", "sensor": {"fs": 25600.0, "n": 2560, "noise_g": 0.08}}},
            "groups": [
                {
                    "prefix": "U-",
                    "count": units,
                    "model": "P-2560",
                    "fault_probability": 0.1,
                    "onset": [0, 300],
                    "ttf": ["1h", "6h"],
                }
            ],
        }
    )


def baseline(units: int, sim_s: float) -> dict:
    snapshots = int(units * sim_s / 600)
    records = int(units * sim_s / 10)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(snapshots // 100):
        rng.standard_normal((100, 2560)).astype(np.float32)
    rng.standard_normal((records, 5))
    wall = time.perf_counter() - t
    return {
        "mode": "baseline",
        "units": units,
        "sim_s": sim_s,
        "wall_s": round(wall, 3),
        "ratio": round(sim_s / wall, 1),
        "messages": records + snapshots,
        "msg_per_s": round((records + snapshots) / wall),
    }


def generate(fleet: Fleet, sim_s: float) -> dict:
    stream = FleetStream(fleet, START_MS)
    t = time.perf_counter()
    n = size = 0
    for e in stream.emissions(START_MS + int(sim_s * 1000)):
        size += len(e.payload())
        n += 1
    wall = time.perf_counter() - t
    return {
        "mode": "generate",
        "units": len(fleet.units),
        "sim_s": sim_s,
        "wall_s": round(wall, 3),
        "ratio": round(sim_s / wall, 2),
        "messages": n,
        "msg_per_s": round(n / wall),
        "mb": round(size / 1e6, 1),
    }


def publish(fleet: Fleet, sim_s: float) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = len(fleet.units) + 1000
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    with MosquittoBroker(persistence=False) as broker:
        speed = 1000.0  # far beyond what is reachable: the publisher runs flat out
        start = int(time.time() * 1000 - sim_s * 1000)  # history replayed fast, ending now
        pub = FleetPublisher(
            fleet,
            broker.url,
            speed=speed,
            start_ms=start,
            progress_interval_s=10.0,
            progress=lambda s: logging.info("%s", s),
        )
        truth = pub.run(sim_s / speed, threading.Event())
        connect_s = pub.stats["connect_s"]
        send_wall = pub.stats["elapsed_s"]
        covered = (truth.end_ms - truth.start_ms) / 1000
    return {
        "mode": "publish",
        "units": len(fleet.units),
        "sim_s": round(covered, 1),
        "wall_s": round(send_wall, 3),
        "ratio": round(covered / send_wall, 2),
        "messages": pub.stats["messages"],
        "msg_per_s": round(pub.stats["messages"] / send_wall),
        "connect_s": round(connect_s, 2),
        "mb": round(pub.stats["bytes"] / 1e6, 1),
    }


def publish_realtime(fleet: Fleet, wall_s: float) -> dict:
    """Speed 1 for ``wall_s``: the clock sets the pace; how far behind does the publisher fall?"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < len(fleet.units) + 1000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(len(fleet.units) + 1000, hard), hard))
    behind: list[float] = []
    with MosquittoBroker(persistence=False) as broker:
        pub = FleetPublisher(
            fleet,
            broker.url,
            speed=1.0,
            progress_interval_s=1.0,
            progress=lambda s: behind.append(s["behind_s"]),
        )
        truth = pub.run(wall_s, threading.Event())
    covered = (truth.end_ms - truth.start_ms) / 1000
    steady = behind[5:-1] or behind  # after the first windows are generated, before the final report
    return {
        "mode": "publish-realtime",
        "units": len(fleet.units),
        "sim_s": round(covered, 1),
        "wall_s": pub.stats["elapsed_s"],
        "ratio": round(covered / pub.stats["elapsed_s"], 2),
        "messages": pub.stats["messages"],
        "msg_per_s": round(pub.stats["messages"] / pub.stats["elapsed_s"]),
        "connect_s": pub.stats["connect_s"],
        "max_behind_s": max(steady, default=None),
        "median_behind_s": sorted(steady)[len(steady) // 2] if steady else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=10_000)
    ap.add_argument(
        "--sim-seconds", type=float, default=600.0, help="simulated span (600 s: every unit snapshots once)"
    )
    ap.add_argument("--no-publish", action="store_true")
    ap.add_argument(
        "--realtime-seconds",
        type=float,
        default=60.0,
        help="wall seconds of the speed-1 publishing run (0: skip)",
    )
    args = ap.parse_args()
    if not 1 <= args.units <= 1_000_000:
        ap.error(f"--units must be 1..1000000, got {args.units}")
    if not (math.isfinite(args.sim_seconds) and args.sim_seconds > 0):
        ap.error(f"--sim-seconds must be a positive number, got {args.sim_seconds:g}")
    if not (math.isfinite(args.realtime_seconds) and args.realtime_seconds >= 0):
        ap.error(f"--realtime-seconds must be 0 or more, got {args.realtime_seconds:g}")
    logging.basicConfig(level=logging.WARNING)
    fleet = make_fleet(args.units)
    rows = [baseline(args.units, args.sim_seconds), generate(fleet, args.sim_seconds)]
    if not args.no_publish:
        rows.append(publish(fleet, args.sim_seconds))
        if args.realtime_seconds > 0:
            rows.append(publish_realtime(fleet, args.realtime_seconds))
    base = rows[0]["wall_s"]
    for r in rows:
        paced = r["mode"] == "publish-realtime"  # the clock, not the cost, sets its wall time
        r["x_baseline_cost"] = round(r["wall_s"] / base, 1) if base and not paced else None
    record = {
        "bench": "simulator_scale",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": vars(args),
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(record)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    print(
        f"\n{args.units} units, telemetry every 10 s, 2,560-sample snapshot every 10 min, "
        f"{args.sim_seconds:g} s simulated\n"
    )
    print("| mode | wall s | sim s / wall s (>= 1: real time) | messages | msg/s | cost vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        extra = f" (connect {r['connect_s']} s)" if "connect_s" in r else ""
        if r.get("max_behind_s") is not None:
            extra += f" (behind the clock: median {r['median_behind_s']} s, max {r['max_behind_s']} s)"
        print(
            f"| {r['mode']}{extra} | {r['wall_s']} | {r['ratio']} | {r['messages']} | {r['msg_per_s']} | "
            f"{r['x_baseline_cost'] or '-'}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
