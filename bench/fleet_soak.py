"""Fleet soak: a real ``foreshock run`` (the CLI, API included) fed by ``foreshock simulate``.

What an operator's server does for weeks, compressed: a fleet of ``--units`` pumps (some develop a
bearing or shaft fault and fail) publishes through Mosquitto at ``--speed`` times real time into
``foreshock run`` (SQLite in its own data folder, or a scratch PostgreSQL database with ``--pg``).
A misbehaving unit sends one malformed message every ``--bad-every`` wall seconds (dead letters).
Every ``--interval`` wall seconds it records:

- the service's resident memory (RSS) and CPU time;
- the size of every file in ``data_dir`` and the row count of every database table;
- the best of 3 response times of the fleet list (first page, last page, ``sort=health``, 500 per
  page, the summary), alerts, tickets and dead letters, with the ``count`` each answers;
- the service log's size.

At the end: the dashboard's fleet page in headless Chromium (time until its table shows, rows,
the counter), paging limits (``limit=501`` refused), the log's lines per logger, the stop.

The baseline is the first sample after ``--warmup`` wall seconds: growth is reported per
simulated day against it (e.g. table rows per sim day, RSS MB per wall hour).

    .venv/bin/python bench/fleet_soak.py --units 300 --speed 60 --minutes 15 [--pg]

Records are appended to ``bench/results/fleet_soak.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import psutil

from foreshock.broker import MosquittoBroker, free_port

RESULTS = ROOT / "bench" / "results" / "fleet_soak.json"
FORESHOCK = str(Path(sys.executable).parent / "foreshock")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def fleet_toml(units: int, *, seed: int = 11, hours: float | None = None) -> str:
    """The soak's fleet (``bench/commissioning_fleet.py`` simulates it to files, with a ``duration``)."""
    duration = f'duration = "{hours}h"\n' if hours is not None else ""
    return f"""
seed = {seed}
{duration}telemetry_interval = "60s"
snapshot_interval = "10m"

[[groups]]
prefix = "P-"
count = {units}
model = "P-1800"
batch = "2026-W40"
fault_probability = 0.15
fault_kinds = ["outer_race", "inner_race", "ball", "imbalance", "misalignment"]
onset = ["0h", "4h"]
ttf = ["3h", "8h"]
"""


def _pg_scratch(name: str, drop: bool = False) -> str:
    import sqlalchemy as sa

    eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    eng.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


class Tables:
    """Row counts of every table: SQLite read-only, or PostgreSQL."""

    def __init__(self, url: str, sqlite_path: Path | None):
        self.sqlite_path = sqlite_path
        self.engine = None
        if sqlite_path is None:
            import sqlalchemy as sa

            self.engine = sa.create_engine(url)

    def counts(self) -> dict[str, int]:
        if self.sqlite_path is not None:
            if not self.sqlite_path.exists():
                return {}
            con = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
            try:
                names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
            finally:
                con.close()
        with self.engine.connect() as c:
            names = [r[0] for r in c.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            out = {n: c.exec_driver_sql(f'SELECT count(*) FROM "{n}"').scalar() for n in names}
            out["_db_bytes"] = c.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
            # the two tables rewritten all the time (detector state every tick, last-seen times): their
            # size with the TOAST, dead rows, and whether autovacuum runs on this server at all
            for name in ("detector_state", "device_units"):
                row = c.exec_driver_sql(
                    "SELECT pg_total_relation_size(relid), n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
                    (name,)).first()
                if row:
                    out[f"_bytes_{name}"], out[f"_dead_{name}"] = int(row[0]), int(row[1])
            out["_autovacuum_on"] = int(c.exec_driver_sql("SHOW autovacuum").scalar() == "on")
            return out


def _files(data_dir: Path) -> dict[str, int]:
    """Bytes per file of ``data_dir``; the files of a subfolder (one snapshot per unit) summed as ``folder/``."""
    out: dict[str, int] = {}
    for p in data_dir.rglob("*"):
        if p.is_file():
            rel = p.relative_to(data_dir)
            key = f"{rel.parts[0]}/" if len(rel.parts) > 1 else str(rel)
            out[key] = out.get(key, 0) + p.stat().st_size
    return out


ROUTES = {
    "units_first": "/api/v1/units?limit=50",
    "units_last": None,  # filled from the count
    "units_500": "/api/v1/units?limit=500",
    "units_sort_health": "/api/v1/units?sort=health&limit=50",
    "units_summary": "/api/v1/units/summary",
    "alerts": "/api/v1/alerts?limit=50",
    "alerts_open": "/api/v1/alerts?status=open&limit=50",
    "tickets": "/api/v1/tickets?limit=50",
    "dead_letters": "/api/v1/dead-letters?limit=50",
}


def time_routes(client: httpx.Client) -> dict:
    out: dict[str, dict] = {}
    units_count = None
    for name, path in ROUTES.items():
        if name == "units_last":
            if not units_count:
                continue
            path = f"/api/v1/units?limit=50&offset={max(0, units_count - 50)}"
        best, status, count, n = None, None, None, None
        for _ in range(3):
            t = time.perf_counter()
            try:
                r = client.get(path)
            except httpx.HTTPError as e:
                status = f"error: {e!r}"
                continue
            dt = (time.perf_counter() - t) * 1000
            best = dt if best is None else min(best, dt)
            status = r.status_code
            if r.status_code == 200:
                body = r.json()
                if isinstance(body, dict):
                    count = body.get("count")
                    n = len(body["data"]) if isinstance(body.get("data"), list) else None
        if name == "units_first":
            units_count = count
        out[name] = {"ms": round(best, 1) if best is not None else None, "status": status,
                     "count": count, "rows": n}
    return out


INGEST_METRICS = {"foreshock_ingest_received_total": "received", "foreshock_ingest_acked_total": "acked",
                  "foreshock_ingest_queue_depth": "queue", "foreshock_ingest_spool_bytes": "spool_bytes",
                  "foreshock_detector_assessments_total": "assessments"}


def ingest_metrics(client: httpx.Client) -> dict:
    """What ingest took and still holds: received, acknowledged, the queue between MQTT and the workers."""
    try:
        text = client.get("/metrics").text
    except httpx.HTTPError as e:
        return {"error": repr(e)}
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in INGEST_METRICS:
            out[INGEST_METRICS[name]] = float(value)
    return out


def bad_unit(url: str, stop: threading.Event, every_s: float) -> None:
    """A unit with broken firmware: a payload that is not JSON, every ``every_s`` seconds."""
    import paho.mqtt.client as mqtt

    host, port = url.removeprefix("mqtt://").split(":")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="BAD-0001")
    c.connect(host, int(port))
    c.loop_start()
    i = 0
    while not stop.wait(every_s):
        i += 1
        c.publish("foreshock/v1/BAD-0001/telemetry", f"{{not json {i}", qos=1)
    c.loop_stop()
    c.disconnect()


def browser_check(base: str, token: str, expect_units: int) -> dict:
    """The dashboard's fleet page in Debian's Chromium: time to the first rows, rows, counter."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        return {"error": f"playwright missing: {e}"}
    chromium = os.environ.get("FORESHOCK_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        return {"error": f"no chromium at {chromium}"}
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    out: dict = {}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=args, headless=True)
        try:
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base}/ui/login")
            page.fill("#token", token)
            t = time.perf_counter()
            page.click("#login-button")
            page.wait_for_url(f"{base}/ui/")
            page.locator("#units tr").first.wait_for(timeout=60_000)
            out["first_rows_ms"] = round((time.perf_counter() - t) * 1000)
            out["rows"] = page.locator("#units tr").count()
            out["counter"] = page.locator("#count").inner_text()
            out["first_unit"] = page.locator("#units tr").first.get_attribute("data-unit")
            # page through to the end: every unit reachable
            pages, seen = 1, out["rows"]
            t = time.perf_counter()
            while page.locator("#page-next").is_enabled() and pages < 50:
                before = page.locator("#count").inner_text()
                page.click("#page-next")
                page.wait_for_function(
                    "b => document.querySelector('#count').innerText !== b", arg=before, timeout=60_000)
                pages += 1
                seen += page.locator("#units tr").count()
            out["pages"] = pages
            out["rows_paged"] = seen
            out["paging_ms"] = round((time.perf_counter() - t) * 1000)
            out["expect_units_at_least"] = expect_units
            shots = Path(os.environ.get("FORESHOCK_SCREENSHOTS", "/tmp/foreshock-screenshots"))
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "fleet-soak-last-page.png"))
            out["js_errors"] = errors[:10]
        finally:
            b.close()
    return out


LOG_LINE = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+):")


def log_summary(path: Path) -> dict:
    per: Counter = Counter()
    lines = 0
    for line in path.read_text(errors="replace").splitlines():
        lines += 1
        m = LOG_LINE.match(line)
        if m:
            per[f"{m.group(1)} {m.group(2)}"] += 1
    return {"lines": lines, "bytes": path.stat().st_size, "per_level_logger": dict(per.most_common(25))}


def _prepare(base: list[str], work: Path, units: int) -> str:
    """The tables, the model, the units and an admin token, as an operator makes them; returns the token."""
    subprocess.run(base + ["db", "upgrade"], check=True, capture_output=True)
    # the operator's registry: the machine model (the simulator's P-1800: an SKF 6205 at 1,800 rpm) and
    # the units, in two customers and four sites (the misbehaving unit never sends a message that parses)
    (work / "model.toml").write_text(
        '[[models]]\nname = "P-1800"\nrated_rpm = 1800\nreporting_interval_s = 60\n\n'
        '[models.bearing]\nn_balls = 9\nball_d = 7.94\npitch_d = 39.04\n')
    subprocess.run(base + ["devices", "models", "add", "--file", str(work / "model.toml")], check=True,
                   capture_output=True)
    rows = ["device_id,model,customer,site,batch"] + [
        f"P-{i:04d},P-1800,{'ACME' if i % 3 else 'Globex'},site-{i % 4},2026-W40" for i in range(1, units + 1)]
    (work / "units.csv").write_text("\n".join(rows) + "\n")
    subprocess.run(base + ["devices", "import", str(work / "units.csv")], check=True, capture_output=True)
    tok = subprocess.run(base + ["token", "create", "--name", "soak", "--role", "admin"],
                         check=True, capture_output=True, text=True).stdout
    return re.search(r"fs_\S+", tok).group(0)


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="foreshock-fleet-soak-"))
    data = work / "data"
    broker = MosquittoBroker(workdir=work / "mqtt").start()
    port = free_port()
    pg_name = f"fs_soak_{uuid.uuid4().hex[:8]}" if args.pg else None
    db_url = _pg_scratch(pg_name) if pg_name else f"sqlite:///{data / 'foreshock.db'}"
    cfg = work / "foreshock.toml"
    cfg.write_text(
        f'data_dir = "{data}"\nlog_level = "INFO"\n\n[mqtt]\nurl = "{broker.url}"\n'
        f'client_id = "soak-{uuid.uuid4().hex[:6]}"\n\n[database]\nurl = "{db_url}"\n\n'
        f'[api]\nhost = "127.0.0.1"\nport = {port}\n\n[ingest]\nauto_register = true\n')
    fleet = work / "fleet.toml"
    fleet.write_text(fleet_toml(args.units))
    base = [FORESHOCK, "--config", str(cfg)]
    try:
        token = _prepare(base, work, args.units)
    except subprocess.CalledProcessError as exc:
        broker.stop()
        if pg_name:
            _pg_scratch(pg_name, drop=True)
        raise SystemExit(f"{' '.join(exc.cmd[3:])} failed: {exc.stderr}") from None
    nice = ["nice", "-n", str(args.nice)]
    log_path = work / "run.log"
    log_f = open(log_path, "wb")
    trace_out = work / "tracemalloc.txt"
    runner = ([sys.executable, str(ROOT / "bench" / "traced_run.py"), *base[1:]] if args.tracemalloc else base)
    svc = subprocess.Popen(nice + runner + ["run"], stdout=log_f, stderr=subprocess.STDOUT,
                           env=os.environ | {"FS_TRACE_OUT": str(trace_out)})
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                        timeout=60)
    deadline = time.monotonic() + 180  # a busy machine, or tracemalloc, starts slowly
    while True:
        try:
            if http.get("/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if svc.poll() is not None or time.monotonic() > deadline:
            # stop what this run started before giving up: the service, the broker, the scratch database
            if svc.poll() is None:
                svc.kill()
                svc.wait(30)
            http.close()
            log_f.close()
            broker.stop()
            if pg_name:
                _pg_scratch(pg_name, drop=True)
            raise SystemExit(f"foreshock run did not become ready; log: {log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    wall_s = args.minutes * 60
    sim_s = wall_s * args.speed
    sim_log = open(work / "simulate.log", "wb")
    t0 = time.monotonic()
    sim = subprocess.Popen(nice + base + ["simulate", str(fleet), "--speed", str(args.speed),
                                          "--duration", f"{int(sim_s)}", "--quiet",
                                          "--truth", str(work / "truth.json")],
                           stdout=sim_log, stderr=subprocess.STDOUT)
    stop_bad = threading.Event()
    bad = threading.Thread(target=bad_unit, args=(broker.url, stop_bad, args.bad_every), daemon=True)
    bad.start()
    proc = psutil.Process(svc.pid)
    tables = Tables(db_url, None if args.pg else data / "foreshock.db")
    samples: list[dict] = []

    def sample(publishing: bool) -> dict:
        mem = proc.memory_info()
        cpu = proc.cpu_times()
        s = {"t_s": round(time.monotonic() - t0, 1), "sim_h": round((time.monotonic() - t0) * args.speed / 3600, 2),
             "publishing": publishing, "rss_mb": round(mem.rss / 2**20, 1),
             "cpu_s": round(cpu.user + cpu.system, 1), "threads": proc.num_threads(),
             "fds": proc.num_fds(), "load_1m": round(os.getloadavg()[0], 2),
             "log_bytes": log_path.stat().st_size, "files": _files(data), "tables": tables.counts(),
             "api": time_routes(http), "ingest": ingest_metrics(http)}
        print(json.dumps({k: s[k] for k in ("t_s", "sim_h", "rss_mb", "cpu_s", "load_1m", "log_bytes", "ingest")}
                         | {"rows": {k: v for k, v in s["tables"].items() if v}},
                         ensure_ascii=False), flush=True)
        return s

    stop_vacuum = threading.Event()
    if args.pg and args.vacuum_every:
        # what autovacuum would do, on a server where it is off (the test server here): the two tables
        # rewritten all the time, every --vacuum-every seconds
        def vacuum() -> None:
            import sqlalchemy as sa

            eng = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
            while not stop_vacuum.wait(args.vacuum_every):
                with eng.connect() as c:
                    c.exec_driver_sql("VACUUM detector_state")
                    c.exec_driver_sql("VACUUM device_units")
            eng.dispose()

        vacuumer = threading.Thread(target=vacuum, daemon=True)
        vacuumer.start()
    else:
        vacuumer = None
    traced_at = [args.warmup]  # heap snapshots: the first after warm-up, then every --trace-every s

    try:
        while sim.poll() is None:
            samples.append(sample(True))
            if args.tracemalloc and samples[-1]["t_s"] >= traced_at[0]:
                svc.send_signal(signal.SIGUSR1)
                traced_at[0] += args.trace_every
            end = time.monotonic() + args.interval
            while sim.poll() is None and time.monotonic() < end:
                time.sleep(1)
        stop_bad.set()
        sim_rc = sim.wait()
        time.sleep(min(30, args.interval))  # the service drains
        samples.append(sample(False))
        if args.tracemalloc:
            svc.send_signal(signal.SIGUSR1)
            time.sleep(20)
        limits = {}
        for q in ("limit=501", "limit=0", "offset=-1", "limit=abc"):
            r = http.get(f"/api/v1/units?{q}")
            limits[q] = {"status": r.status_code, "body": r.text[:200]}
        for route in ("/api/v1/alerts?limit=501", "/api/v1/tickets?limit=501"):
            r = http.get(route)
            limits[route] = {"status": r.status_code, "body": r.text[:200]}
        units_count = samples[-1]["api"]["units_first"]["count"] or 0
        browser = browser_check(str(http.base_url).rstrip("/"), token, units_count) if not args.no_browser else None
        metrics = http.get("/metrics").text
        t = time.monotonic()
        svc.send_signal(signal.SIGTERM)
        try:
            svc_rc = svc.wait(60)
        except subprocess.TimeoutExpired:
            svc.kill()
            svc_rc = "killed after 60 s"
        stop_s = round(time.monotonic() - t, 1)
    finally:
        stop_bad.set()
        stop_vacuum.set()
        if sim.poll() is None:
            sim.kill()
        if svc.poll() is None:
            svc.kill()
        http.close()
        log_f.close()
        broker.stop()
    wanted = re.compile(r"^foreshock_(ingest_(received|rejected|points_written)|detect|alerts?_|tickets?_)")
    metric_lines = [line for line in metrics.splitlines() if wanted.match(line)]
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/fleet_soak.py", *sys.argv[1:]]),
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "database": "postgresql" if args.pg else "sqlite", "vacuum_every_s": args.vacuum_every if args.pg else None,
        "units": args.units, "speed": args.speed, "wall_s": wall_s, "sim_h": round(sim_s / 3600, 1),
        "simulate_rc": sim_rc, "service_rc": svc_rc, "stop_s": stop_s,
        "limits": limits, "browser": browser, "log": log_summary(log_path), "metrics": metric_lines[:80],
        "samples": samples, "work": str(work),
        "tracemalloc": trace_out.read_text()[-12000:] if args.tracemalloc and trace_out.exists() else None,
    }
    record["summary"] = summarise(record, args.warmup)
    if vacuumer is not None:
        vacuumer.join(60)  # its connection closed before the scratch database is dropped
    if pg_name and not args.keep:
        http_engine = tables.engine
        if http_engine is not None:
            http_engine.dispose()
        _pg_scratch(pg_name, drop=True)
    return record


def summarise(rec: dict, warmup: float) -> dict:
    samples = [s for s in rec["samples"] if s["publishing"]]
    if not samples:
        return {}
    first = next((s for s in samples if s["t_s"] >= warmup), samples[0])
    last = samples[-1]
    sim_d = (last["t_s"] - first["t_s"]) * rec["speed"] / 86400
    wall_h = (last["t_s"] - first["t_s"]) / 3600
    out: dict = {"baseline_t_s": first["t_s"], "last_t_s": last["t_s"],
                 "rss_mb_baseline": first["rss_mb"], "rss_mb_last": last["rss_mb"],
                 "rss_mb_max": max(s["rss_mb"] for s in samples),
                 "rss_ratio_last_to_baseline": round(last["rss_mb"] / first["rss_mb"], 3)}
    if sim_d > 0:
        rows = {}
        for k, v in last["tables"].items():
            d = v - first["tables"].get(k, 0)
            if d:
                rows[k] = {"last": v, "per_sim_day": round(d / sim_d)}
        out["table_growth"] = rows
        fb = sum(first["files"].values())
        lb = sum(last["files"].values())
        out["data_dir_mb"] = round(lb / 2**20, 1)
        out["data_dir_mb_per_sim_day"] = round((lb - fb) / 2**20 / sim_d, 1)
        out["log_bytes_per_wall_h"] = round((last["log_bytes"] - first["log_bytes"]) / wall_h)
        out["log_bytes_per_sim_day"] = round((last["log_bytes"] - first["log_bytes"]) / sim_d)
    out["api_ms_first_vs_last"] = {k: [first["api"].get(k, {}).get("ms"), v.get("ms"), v.get("count")]
                                   for k, v in last["api"].items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=90.0)
    ap.add_argument("--bad-every", type=float, default=2.0)
    ap.add_argument("--nice", type=int, default=10)
    ap.add_argument("--pg", action="store_true", help="a scratch PostgreSQL database at 127.0.0.1:5432")
    ap.add_argument("--keep", action="store_true", help="keep the scratch PostgreSQL database")
    ap.add_argument("--vacuum-every", type=float, default=0.0,
                    help="with --pg: VACUUM detector_state and device_units every so many wall seconds (0: never)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="run the service under tracemalloc (bench/traced_run.py): Python heap growth by source line")
    ap.add_argument("--trace-every", type=float, default=300.0, help="wall seconds between heap snapshots")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    if not 1 <= args.units <= 100_000:
        ap.error("--units must be 1..100000")
    for name in ("speed", "minutes", "interval", "bad_every", "trace_every"):
        value = getattr(args, name)
        if not (value > 0 and value != float("inf")):
            ap.error(f"--{name.replace('_', '-')} must be a positive number")
    if not Path(FORESHOCK).exists():
        ap.error(f"no foreshock command beside this Python ({FORESHOCK}): run it with the project's .venv/bin/python")
    rec = run(args)
    print(json.dumps(rec["summary"], indent=1))
    print(json.dumps({k: rec[k] for k in ("limits", "browser", "log", "service_rc", "stop_s", "simulate_rc")},
                     indent=1))
    records = json.loads(args.results.read_text()) if args.results.exists() else []
    records.append(rec)
    args.results.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
