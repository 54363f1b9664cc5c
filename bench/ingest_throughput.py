"""Ingest throughput: Mosquitto -> IngestService -> InfluxDB 1.x (real influxd), QoS 1, losing none.

Baseline, measured in the same run on the same broker with the same publishers: a bare
paho-mqtt subscriber (QoS 1, persistent session) that only ``json.loads`` each payload.
Publishers run in separate processes. Two modes, both reported:

- ``live``: publishers and consumer run at once; the consumer's rate is messages / (last stored -
  first received); end-to-end latency is publish -> stored (the ``on_batch`` hook runs after the
  durable write), percentiles over all messages.
- ``paced``: as live, but the publishers keep to ``--rate`` msg/s in total: latency without queueing.
- ``backlog``: the publishers fill the broker while the consumer is offline (persistent session);
  then the consumer drains it: the rate it sustains when it is the bottleneck.

Then the points are counted in influxd: every message must be there exactly once.

    .venv/bin/python bench/ingest_throughput.py [--messages 100000] [--publishers 2] [--devices 100]

Results are appended to ``bench/results/ingest_throughput.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from foreshock.broker import MosquittoBroker
from foreshock.settings import load_settings
from foreshock.tsdb.influx1 import Influx1Store
from tests.tsdb_servers import InfluxdServer

RESULTS = Path(__file__).resolve().parent / "results" / "ingest_throughput.json"


def _publisher(port: int, index: int, n: int, devices: int, base_ms: int, ready, go, impl: str,
               rate: float = 0.0) -> None:
    """Publish ``n`` telemetry messages at QoS 1 as fast as the publisher goes.

    ``impl="mosquitto_pub"`` feeds lines to ``mosquitto_pub -l`` (C, one device per publisher, fast
    enough to load the consumer); ``impl="paho"`` publishes from Python over ``devices`` devices.
    """
    if impl == "mosquitto_pub":
        device = f"B-{index:04d}"
        proc = subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-M", "1000", "-l",
             "-i", f"bench-pub-{index}-{uuid.uuid4().hex[:6]}", "-t", f"foreshock/v1/{device}/telemetry"],
            stdin=subprocess.PIPE,
        )
        ready.set()
        go.wait()
        chunk = []
        t0 = time.perf_counter()
        for i in range(n):
            if rate and i % 50 == 0:
                ahead = t0 + i / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            seq = index * n + i
            chunk.append(b'{"ts":%d,"seq":%d,"values":{"sent_s":%.6f,"load":%d}}\n' % (base_ms + i, seq, time.time(), seq))
            if len(chunk) == 50:
                proc.stdin.write(b"".join(chunk))
                chunk = []
        proc.stdin.write(b"".join(chunk))
        proc.stdin.close()
        proc.wait()
        return
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{index}-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.set()
    go.wait()
    infos = []
    for i in range(n):
        seq = index * n + i
        device = f"B-{seq % devices:04d}"
        ts = base_ms + seq // devices
        payload = b'{"ts":%d,"seq":%d,"values":{"sent_s":%.6f,"load":%d}}' % (ts, seq, time.time(), seq)
        infos.append(client.publish(f"foreshock/v1/{device}/telemetry", payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def _start_publishers(port: int, args, base_ms: int, mode: str = "live") -> tuple[list, object]:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    per = args.messages // args.publishers
    procs = []
    for i in range(args.publishers):
        ready = ctx.Event()
        rate = args.rate / args.publishers if mode == "paced" else 0.0
        p = ctx.Process(target=_publisher, args=(port, i, per, args.devices, base_ms, ready, go, args.publisher, rate))
        p.start()
        ready.wait(30)
        procs.append(p)
    return procs, go


class _Baseline:
    """A bare paho subscriber: QoS 1, persistent session, json.loads only."""

    def __init__(self, port: int, total: int) -> None:
        self.total = total
        self.count = 0
        self.first = self.last = 0.0
        self.latencies = np.zeros(total)
        self.done = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-base-{uuid.uuid4().hex[:6]}",
                                  clean_session=False)
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe("foreshock/v1/+/telemetry", qos=1)
        self.port = port

    def _on_message(self, client, userdata, msg) -> None:
        doc = json.loads(msg.payload)
        now = time.time()
        if self.count == 0:
            self.first = time.perf_counter()
        if self.count < self.total:
            self.latencies[self.count] = now - doc["values"]["sent_s"]
        self.count += 1
        if self.count >= self.total:
            self.last = time.perf_counter()
            self.done.set()

    def start(self) -> None:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        self.subscribed.wait(10)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class _Ingest:
    def __init__(self, port: int, influx_url: str, total: int, workdir: Path, db: str) -> None:
        self.total = total
        self.count = 0
        self.first = self.last = 0.0
        self.latencies = np.zeros(total)
        self.done = threading.Event()
        self.db = db
        settings = load_settings(
            data_dir=workdir,
            mqtt={"url": f"mqtt://127.0.0.1:{port}", "client_id": f"bench-ingest-{uuid.uuid4().hex[:6]}"},
            telemetry={"backend": "influx1", "url": influx_url, "database": db, "batch_size": 5000,
                       "flush_interval_s": 0.05},
            ingest={"queue_size": 50_000},
        )
        from foreshock.db import make_engine, migrate, session_factory
        from ingest.deadletter import DeadLetterStore

        engine = make_engine(f"sqlite:///{workdir / 'rel.db'}")
        migrate(engine)
        self.store = Influx1Store.from_settings(settings.telemetry)
        self.settings = settings
        self.dead_letters = DeadLetterStore(session_factory(engine))
        self.service = self._service()

    def _service(self):
        from ingest.service import IngestService

        return IngestService(self.settings, self.store, self.dead_letters, device_check=None, on_batch=self._on_batch)

    def restart(self) -> None:
        """A new service with the same client id: it resumes the broker session."""
        self.service = self._service()
        self.service.start()

    def _on_batch(self, messages) -> None:
        now = time.time()
        if self.count == 0:
            self.first = time.perf_counter()
        for m in messages:
            for r in m.parsed.records:
                if self.count < self.total:
                    self.latencies[self.count] = now - r.values["sent_s"]
                self.count += 1
        if self.count >= self.total:
            self.last = time.perf_counter()
            self.done.set()

    def start(self) -> None:
        self.service.start()

    def stop(self) -> None:
        self.service.stop(30)
        self.store.close()


def _run(kind: str, mode: str, args, broker, influx, workdir: Path) -> dict:
    total = (args.messages // args.publishers) * args.publishers
    base_ms = int(time.time() * 1000) - 3_600_000
    db = f"bench_{uuid.uuid4().hex[:8]}"
    consumer = _Baseline(broker.port, total) if kind == "baseline" else _Ingest(broker.port, influx.url, total,
                                                                                 workdir / uuid.uuid4().hex, db)
    consumer.start()
    procs, go = _start_publishers(broker.port, args, base_ms, mode)
    t_pub = time.perf_counter()
    go.set()
    ok = consumer.done.wait(args.timeout)
    for p in procs:
        p.join()
    pub_s = time.perf_counter() - t_pub
    consumer.stop()
    elapsed = (consumer.last or time.perf_counter()) - t_pub  # publishing start -> last message handled
    lat = consumer.latencies[: min(consumer.count, total)] * 1000
    row = {
        "consumer": kind, "mode": mode, "messages": total, "received": consumer.count, "complete": ok,
        "rate_msg_s": round(consumer.count / elapsed, 1) if elapsed > 0 else None,
        "publish_rate_msg_s": round(total / pub_s, 1),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
        "latency_ms_p99": round(float(np.percentile(lat, 99)), 1) if lat.size else None,
        "latency_ms_max": round(float(lat.max()), 1) if lat.size else None,
    }
    if kind == "ingest":
        r = httpx.get(f"{influx.url}/query", params={"db": db, "q": 'SELECT count("load") FROM "telemetry"'})
        series = r.json()["results"][0].get("series", [])
        stored = series[0]["values"][0][1] if series else 0
        row["stored_points"] = stored
        row["lost"] = total - stored
        snap = consumer.service.metrics.snapshot()
        row["batches"] = snap["batches_written"]
        row["rejected"] = snap["rejected_total"]
    return row


def _backlog_baseline(args, broker) -> dict:
    """The baseline in backlog mode: subscribe once, go offline, publish, reconnect and drain."""
    total = (args.messages // args.publishers) * args.publishers
    base = _Baseline(broker.port, total)
    base.start()
    base.stop()
    procs, go = _start_publishers(broker.port, args, int(time.time() * 1000) - 3_600_000)
    go.set()
    for p in procs:
        p.join()
    t_start, cpu_start = time.perf_counter(), time.process_time()
    base.start()
    ok = base.done.wait(args.timeout)
    cpu = time.process_time() - cpu_start
    base.stop()
    elapsed = (base.last or time.perf_counter()) - t_start
    return {"consumer": "baseline", "mode": "backlog", "messages": total, "received": base.count, "complete": ok,
            "rate_msg_s": round(base.count / elapsed, 1) if elapsed > 0 else None,
            "cpu_us_per_msg": round(cpu / max(base.count, 1) * 1e6, 1)}


def _backlog_ingest(args, broker, influx, workdir: Path) -> dict:
    total = (args.messages // args.publishers) * args.publishers
    db = f"bench_{uuid.uuid4().hex[:8]}"
    ing = _Ingest(broker.port, influx.url, total, workdir / uuid.uuid4().hex, db)
    ing.start()
    ing.service.stop(10)
    procs, go = _start_publishers(broker.port, args, int(time.time() * 1000) - 3_600_000)
    go.set()
    for p in procs:
        p.join()
    t_start, cpu_start = time.perf_counter(), time.process_time()
    ing.restart()
    ok = ing.done.wait(args.timeout)
    cpu = time.process_time() - cpu_start
    ing.stop()
    elapsed = (ing.last or time.perf_counter()) - t_start
    r = httpx.get(f"{influx.url}/query", params={"db": db, "q": 'SELECT count("load") FROM "telemetry"'})
    series = r.json()["results"][0].get("series", [])
    stored = series[0]["values"][0][1] if series else 0
    return {"consumer": "ingest", "mode": "backlog", "messages": total, "received": ing.count, "complete": ok,
            "rate_msg_s": round(ing.count / elapsed, 1) if elapsed > 0 else None, "stored_points": stored,
            "cpu_us_per_msg": round(cpu / max(ing.count, 1) * 1e6, 1),
            "lost": total - stored}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--devices", type=int, default=100, help="devices (paho publishers only)")
    parser.add_argument("--publisher", choices=["mosquitto_pub", "paho"], default="mosquitto_pub")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="alternating baseline/ingest runs per mode (medians)")
    parser.add_argument("--modes", default="live,backlog,paced")
    parser.add_argument("--rate", type=float, default=5000.0, help="total publish rate of the paced mode (msg/s)")
    args = parser.parse_args()
    if args.publishers < 1 or args.devices < 1 or args.rounds < 1:
        parser.error("--publishers, --devices and --rounds must be at least 1")
    if args.messages < args.publishers:
        parser.error(f"--messages must be at least --publishers ({args.publishers}), got {args.messages}")
    if not (args.timeout > 0 and args.rate > 0):
        parser.error("--timeout and --rate must be positive")
    unknown = [m for m in args.modes.split(",") if m not in ("live", "backlog", "paced")]
    if unknown:
        parser.error(f"--modes: unknown {', '.join(unknown)} (known: live, backlog, paced)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="foreshock-bench-"))
    broker = MosquittoBroker(workdir=workdir / "mqtt", persistence=False).start()
    influx = InfluxdServer(workdir=workdir).start()
    rows = []
    try:
        for mode in args.modes.split(","):
            for _ in range(args.rounds):  # alternate, so that load from elsewhere hits both alike
                if mode in ("live", "paced"):
                    rows.append(_run("baseline", mode, args, broker, influx, workdir))
                    rows.append(_run("ingest", mode, args, broker, influx, workdir))
                elif mode == "backlog":
                    rows.append(_backlog_baseline(args, broker))
                    rows.append(_backlog_ingest(args, broker, influx, workdir))
    finally:
        influx.stop()
        broker.cleanup()
    ratios, medians = {}, {}
    for mode in dict.fromkeys(r["mode"] for r in rows):
        for kind in ("baseline", "ingest"):
            rates = [r["rate_msg_s"] or 0.0 for r in rows if r["mode"] == mode and r["consumer"] == kind]
            medians[f"{mode}/{kind}"] = round(float(np.median(rates)), 1)
        base, ing = medians[f"{mode}/baseline"], medians[f"{mode}/ingest"]
        ratios[mode] = round(ing / base, 3) if base else None
        cpu = {k: [r["cpu_us_per_msg"] for r in rows if r["mode"] == mode and r["consumer"] == k and "cpu_us_per_msg" in r]
               for k in ("baseline", "ingest")}
        if cpu["baseline"] and cpu["ingest"]:  # CPU per message: robust against load from other processes
            ratios[f"{mode}/cpu"] = round(float(np.median(cpu["baseline"]) / np.median(cpu["ingest"])), 3)
    lost = sum(r.get("lost", 0) for r in rows)
    result = {
        "bench": "ingest_throughput",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "args": vars(args),
        "rows": rows,
        "median_rate_msg_s": medians,
        "ratio_ingest_to_baseline": ratios,
        "lost_total": lost,
        "load_average_at_end": os.getloadavg(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(result)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    cols = ["mode", "consumer", "messages", "received", "rate_msg_s", "cpu_us_per_msg", "publish_rate_msg_s",
            "latency_ms_p50",
            "latency_ms_p95", "latency_ms_p99", "stored_points", "lost"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    print()
    for mode, ratio in ratios.items():
        if mode.endswith("/cpu"):
            print(f"{mode[:-4]}: CPU per message, baseline / ingest = {ratio} (the rate ratio on an otherwise idle core)")
            continue
        print(f"{mode}: median ingest {medians[mode + '/ingest']} msg/s vs baseline {medians[mode + '/baseline']} msg/s"
              f" -> ratio {ratio} (target >= 0.8)")
    print(f"messages lost: {lost}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
