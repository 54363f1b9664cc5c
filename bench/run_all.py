"""Run every benchmark in ``bench/`` and write ``bench/RESULTS.md`` from ``bench/results/*.json``.

Each benchmark measures its own baseline in the same run and appends its record to
``bench/results/<name>.json``; this script runs them one after the other (never two at once: they
would share the two cores), then renders the latest record of each with the machine it ran on
(``nproc``, CPU model, memory, load average), the exact command, the baseline and the ratio.

    .venv/bin/python bench/run_all.py            # the full set (about 20 minutes on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # smaller runs (about 6 minutes)
    .venv/bin/python bench/run_all.py --only soak,detectors_cost
    .venv/bin/python bench/run_all.py --report   # only rewrite RESULTS.md from the stored results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
REPORT = BENCH / "RESULTS.md"

# name -> (full arguments, quick arguments)
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "detectors_cost": ([], ["--snapshots", "150"]),
    "ingest_throughput": (["--messages", "100000", "--publishers", "4", "--rounds", "2"],
                          ["--messages", "20000", "--publishers", "2", "--modes", "live,backlog"]),
    "simulator_scale": ([], ["--units", "1000", "--sim-seconds", "600", "--realtime-seconds", "20"]),
    "evaluate_all": ([], []),
    "fleet_validation": ([], []),
    "fleet_generalisation": (["--fleet", "simulator/fleets/generalisation.toml"],
                             ["--fleet", "simulator/fleets/generalisation.toml"]),
    "long_snapshots": ([], ["--snapshots", "20"]),
    "soak": ([], ["--duration", "90", "--warmup", "50"]),
    "api_fleet_list": ([], ["--units", "10000"]),
    "api_history_list": ([], ["--rows", "10000"]),
    "fleet_soak": (["--units", "300", "--speed", "60", "--minutes", "15"],
                   ["--units", "50", "--speed", "60", "--minutes", "2", "--interval", "20", "--warmup", "20"]),
}


def machine() -> dict[str, Any]:
    model = mem = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "memory": mem,
            "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
            "platform": platform.platform()}


# a benchmark run by another one's script, with its own arguments and results file
SCRIPT_OF = {"fleet_generalisation": "fleet_validation"}


def run_one(name: str, args: list[str]) -> dict[str, Any]:
    script = SCRIPT_OF.get(name, name)
    cmd = [sys.executable, str(BENCH / f"{script}.py"), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=BENCH.parent, check=False)
    return {"name": name, "command": " ".join([".venv/bin/python", f"bench/{script}.py", *args]),
            "exit_code": proc.returncode, "wall_s": round(time.perf_counter() - t0, 1)}


def latest(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data[-1] if isinstance(data, list) and data else data if isinstance(data, dict) else None


def _table(rows: list[dict[str, Any]], keys: list[str] | None = None) -> list[str]:
    if not rows:
        return []
    if keys is None:  # every scalar column of any row, in order of appearance
        keys = list(dict.fromkeys(k for r in rows for k, v in r.items() if not isinstance(v, (dict, list))))
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join("" if r.get(k) is None else str(r.get(k)) for k in keys) + " |" for r in rows]
    return out


def _flat(record: dict[str, Any], skip: tuple[str, ...]) -> list[str]:
    lines = []
    for k, v in record.items():
        if k in skip or isinstance(v, list):
            continue
        lines.append(f"- **{k}**: " + (", ".join(f"{a} {b}" for a, b in v.items()) if isinstance(v, dict) else str(v)))
    return lines


def _timed_rows(rows: list[dict[str, Any]], size: str, base_key: str, base_label: str) -> list[str]:
    """A table of API times in ms per ``size`` row, each cell with its ratio to the row's baseline."""
    cols = [k for k in (rows[0] if rows else {}) if k not in (size, base_key)]
    out = [f"| {size} | {base_label} | " + " | ".join(cols) + " |", "|---:|---:|" + "---:|" * len(cols)]
    for r in rows:
        base = r.get(base_key) or 0
        cells = [f"{r[c] * 1000:.0f} ms ({r[c] / base:.0f}×)" if base else f"{r[c] * 1000:.0f} ms" for c in cols]
        out.append(f"| {r.get(size):,} | {base * 1000:.1f} ms | " + " | ".join(cells) + " |")
    return out


def _naming_summaries(node: Any, path: tuple[str, ...] = ()) -> Any:
    """Every CWRU naming summary (a dict with ``right`` and ``of``) in a record, with where it sits;
    per-record details (``records``, ``snapshots``) are left to the JSON."""
    if isinstance(node, dict):
        if {"right", "of"} <= node.keys():
            yield path, node
            return
        for k, v in node.items():
            if k not in ("records", "snapshots"):
                yield from _naming_summaries(v, (*path, str(k)))


def _cwru_experiment(record: dict[str, Any]) -> list[str]:
    """A CWRU experiment's summaries as one table (fault records named right, per kind, the healthy record)."""
    rows = list(_naming_summaries(record))
    out = ["", "A CWRU experiment, not a detector (docs/detector-performance.md, CWRU section).", ""]
    if rows:
        out += ["| variant | right / of | inner | outer | ball | healthy record named |", "|---|---:|---:|---:|---:|---|"]
        out += [f"| {' / '.join(path) or '–'} | {r['right']} / {r['of']} | {r.get('inner_race', '')} | "
                f"{r.get('outer_race', '')} | {r.get('ball', '')} | {', '.join(r.get('healthy_named') or [])} |"
                for path, r in rows]
        out.append("")
    scalars = {k: v for k, v in record.items() if k != "when" and not isinstance(v, (dict, list))}
    return out + [f"- **{k}**: {v}" for k, v in scalars.items()]


def _fleet_soak_runs() -> list[str]:
    """One line per recorded fleet soak: each was a different condition (database, speed, tracemalloc)."""
    path = RESULTS / "fleet_soak.json"
    records = json.loads(path.read_text()) if path.exists() else []
    out = ["", "Every recorded run (the latest in detail below):", "",
           "| when | database | units | speed | wall s | tracemalloc | VACUUM every s | RSS MB after warm-up / max / end "
           "| queue max | alerts | tickets | data_dir MB | database MB | fleet list first page ms (max) "
           "| simulate exit | stop s |", "|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        sm = r.get("summary", {})
        samples = r.get("samples", [])
        last = samples[-1] if samples else {}
        tables = last.get("tables", {})
        queues = [s.get("ingest", {}).get("queue") for s in samples if (s.get("ingest") or {}).get("queue") is not None]
        api = [s["api"]["units_first"]["ms"] for s in samples if s.get("api", {}).get("units_first", {}).get("ms")]
        out.append(
            f"| {r.get('when')} | {r.get('database')} | {r.get('units')} | {r.get('speed')} | {r.get('wall_s')} "
            f"| {'yes' if r.get('tracemalloc') else 'no'} | {r.get('vacuum_every_s') or ''} "
            f"| {sm.get('rss_mb_baseline')} / {sm.get('rss_mb_max')} / {sm.get('rss_mb_last')} "
            f"| {max(queues) if queues else ''} | {tables.get('alerts')} | {tables.get('tickets')} "
            f"| {round(sum(last.get('files', {}).values()) / 2**20, 1)} "
            f"| {round(tables['_db_bytes'] / 2**20, 1) if '_db_bytes' in tables else ''} "
            f"| {max(api) if api else ''} | {r.get('simulate_rc')} | {r.get('stop_s')} |")
    return out


def _fleet_soak(record: dict[str, Any]) -> list[str]:
    """A real ``foreshock run`` fed by the simulator: memory, table rows, files, API times over the run."""
    db = record.get("database")
    out = _fleet_soak_runs() + ["", "The latest run:", "", (f"`foreshock run` ({db}) fed by `foreshock simulate`: {record.get('units')} units at "
                f"{record.get('speed')}x for {record.get('wall_s')} s ({record.get('sim_h')} simulated hours). "
                "Baseline: the first sample after warm-up in the same run; growth per simulated day against it. "
                "`q` is ingest's queue (received, not yet stored), `dl` the dead letters, `api` the best of 3 "
                "in ms of the fleet list's first page / sort=health / alerts / tickets."), ""]
    rows = []
    for s in record.get("samples", []):
        t, f, a = s.get("tables", {}), s.get("files", {}), s.get("api", {})
        ms = "/".join(str(a.get(k, {}).get("ms")) for k in ("units_first", "units_sort_health", "alerts", "tickets"))
        row = {"t_s": s["t_s"], "sim_h": s["sim_h"], "rss_mb": s["rss_mb"], "load": s.get("load_1m"),
               "q": (s.get("ingest") or {}).get("queue"), "alerts": t.get("alerts"), "tickets": t.get("tickets"),
               "ticket_events": t.get("ticket_events"), "dl": t.get("ingest_dead_letters"),
               "data_dir_mb": round(sum(f.values()) / 2**20, 1), "api": ms, "log_kb": round(s["log_bytes"] / 1024)}
        if db == "postgresql":
            row["db_mb"] = round(t.get("_db_bytes", 0) / 2**20, 1)
            row["detector_state_mb"] = round(t.get("_bytes_detector_state", 0) / 2**20, 1)
        rows.append(row)
    out += _table(rows)
    summary = dict(record.get("summary", {}))
    api = summary.pop("api_ms_first_vs_last", {})
    growth = summary.pop("table_growth", {})
    out += [""] + _flat(summary, ())
    out.append("- **rows per simulated day** (last count): "
               + ", ".join(f"{k} {v['per_sim_day']} ({v['last']})" for k, v in growth.items()))
    out.append("- **API ms, baseline sample / last sample (count)**: "
               + ", ".join(f"{k} {v[0]} / {v[1]} ({v[2]})" for k, v in api.items()))
    browser = record.get("browser") or {}
    out.append("- **dashboard fleet page**: " + ", ".join(f"{k} {v}" for k, v in browser.items()))
    out.append("- **paging limits**: " + ", ".join(f"{k} {v['status']}" for k, v in record.get("limits", {}).items()))
    log_ = record.get("log") or {}
    out.append(f"- **log**: {log_.get('lines')} lines, {log_.get('bytes')} bytes; "
               + ", ".join(f"{k} {v}" for k, v in (log_.get("per_level_logger") or {}).items()))
    out += [f"- **{k}**: {record.get(k)}" for k in ("command", "machine", "simulate_rc", "service_rc", "stop_s")]
    return out


def render(name: str, record: dict[str, Any]) -> list[str]:
    """The markdown section of one benchmark's latest record."""
    out = [f"## {name}", "", f"Recorded {record.get('when', '?')}."]
    if name == "ingest_throughput":
        out += ["", ("Baseline: a bare paho subscriber (QoS 1, `json.loads` only) on the same broker and "
                     "publishers."), ""] + _table(record.get("rows", []))
        out += ["", (f"Ratio ingest / baseline: {record.get('ratio_ingest_to_baseline')}; "
                     f"lost: {record.get('lost_total')}.")]
    elif name == "simulator_scale":
        out += ["", "Baseline: plain numpy drawing the same number of samples (`x_baseline_cost` = wall / baseline).",
                ""] + _table(record.get("rows", []))
    elif name == "detectors_cost":
        ms, ratio = record.get("ms_per_snapshot", {}), record.get("ratio_to_hst_alone", {})
        out += ["", "Baseline: river's HalfSpaceTrees alone on the same snapshots.", "",
                "| stage | ms per snapshot | ratio to baseline |", "|---|---:|---:|"]
        out += [f"| {k} | {v} | {ratio.get(k)} |" for k, v in ms.items()]
        out += [""] + _flat(record, ("when", "machine", "ms_per_snapshot", "ratio_to_hst_alone"))
    elif name == "soak":
        out += ["", ("Baseline: the windows after warm-up of the same run. Memory: last window / first; p99 latency: "
                     "median of the last third of the windows / median of the first third (records before "
                     "12:19 UTC on 2026-11-21: last window / first)."), ""] + _flat(record, ("when", "machine", "windows", "bench"))
        out += [""] + _table(record.get("windows", []))
    elif name == "fleet_soak":
        out += _fleet_soak(record)
    elif name in ("fleet_validation", "fleet_generalisation"):
        out += ["", ("Baseline: an ISO 10816 zone alarm alone (velocity above the model's B/C boundary for 10 "
                     "minutes) on the same simulated files."), "",
                "| fault | failed | Foreshock warned >= 24 h | median lead (h) | ISO zone C alone >= 24 h | median lead (h) |",
                "|---|---:|---:|---:|---:|---:|"]
        rows = {**record.get("per_fault", {}), "all": record.get("all_faults", {})}
        for k, v in rows.items():
            f, i = v.get("foreshock", {}), v.get("iso_zone_c", {})
            out.append(f"| {k} | {v.get('failed')} | {f.get('warned_24h_share')} | {f.get('median_lead_h')} | "
                       f"{i.get('warned_24h_share')} | {i.get('median_lead_h')} |")
        out += [""] + _flat(record, ("when", "per_fault", "all_faults"))
    elif name == "long_snapshots":
        out += ["", "Baseline: the same engine with `np.dot` put back (as before), in the same run, idle and with "
                    "one busy process per core.", "",
                "| snapshot | machine | np.dot (before) ms | detectors.robust.dot ms | ratio |", "|---|---|---:|---:|---:|"]
        for label, table in (record.get("ms_per_snapshot") or {}).items():
            for size, row in table.items():
                a, b = row.get("np.dot (before)"), row.get("detectors.robust.dot")
                out.append(f"| {size} | {label} | {a} | {b} | {round(a / b, 1) if a and b else ''} |")
        out += [""] + _flat(record, ("when", "ms_per_snapshot"))
    elif name == "prognosis_calibration":
        sim = record.get("simulated", {})
        out += ["", (f"{record.get('label', '')}. Simulated runs ({record.get('seeds')} seeds per fault kind), every "
                     f"snapshot from the first warning; nominal coverage {record.get('nominal')}."), "",
                "| actual time left measured to | life elapsed | snapshots | coverage | median width / actual "
                "| median error | median abs. error |", "|---|---|---:|---:|---:|---:|---:|"]
        for label, block in (("failure", sim), ("alarm", sim.get("to_alarm", {}))):
            rows = [("all", block.get("all", {}))] + list(block.get("by_life", {}).items())
            out += [f"| {label} | {k} | {v.get('n')} | {v.get('coverage')} | {v.get('median_width_rel')} | "
                    f"{v.get('median_rel_error')} | {v.get('median_abs_rel_error')} |" for k, v in rows]
        femto = record.get("femto") or {}
        if femto:
            out += ["", f"- **FEMTO**: coverage {femto.get('all', {}).get('coverage')}, mean PHM 2012 score at the "
                        f"last snapshot {femto.get('mean_phm2012_score_at_last_snapshot')}"]
        out += _flat(record, ("when", "simulated", "femto", "label"))
    elif name == "api_fleet_list":
        out += ["", (f"{record.get('label', '')}. Baseline: `GET /api/v1/units/{{id}}` of one unit in the same run; "
                     "each cell the best of the repeats, with its ratio to the baseline."), ""]
        out += _timed_rows(record.get("rows", []), "units", "baseline one unit", "one unit (baseline)")
    elif name == "api_history_list":
        out += ["", (f"{record.get('label') or 'History lists'}. Alerts, tickets (4 audit events each) and dead letters, as many of "
                     "each, over 10,000 units, 2 % open. Baseline: `GET /api/v1/alerts/{id}` of one alert in the "
                     "same run; each cell the best of the repeats, with its ratio to the baseline."), ""]
        out += _timed_rows(record.get("rows", []), "rows", "baseline one alert", "one alert (baseline)")
        out += ["", f"- **command**: {record.get('command')}"]
    elif name == "cwru_cyclic":
        out += ["", ("An experiment, not a detector: CWRU fault naming from the cyclic spectral coherence (Fast SC). "
                     "Baseline: the adopted diagnosis (`current`) on the same snapshots. `healthy` is what the "
                     "healthy record is named."), "",
                "| records | carriers | threshold dB | right (cyclic) | right (current) | of | healthy (cyclic) |",
                "|---|---|---:|---:|---:|---:|---|"]
        for label, rows in (record.get("summaries") or {}).items():
            for r in rows:
                healthy = ", ".join(v.get("csc", "") for v in (r.get("healthy") or {}).values())
                out.append(f"| {label} | {r.get('key')} | {r.get('threshold_db')} | {r.get('csc_right')} | "
                           f"{r.get('current_right')} | {r.get('fault_records')} | {healthy} |")
        out += ["", "| record | fs | ms per 3 s snapshot |", "|---|---:|---|"]
        for c in record.get("cost_ms") or []:
            cells = ", ".join(f"{k} {v}" for k, v in c.items() if k not in ("record", "fs"))
            out.append(f"| {c.get('record')} | {c.get('fs')} | {cells} |")
        out += [""] + _flat(record, ("when", "summaries", "snapshot_scores", "without_threshold", "cost_ms"))
    elif name in ("cwru_drs", "cwru_pattern", "cwru_simclass", "cwru_ir_lines"):
        out += _cwru_experiment(record)
    elif name == "cwru_band_oracle":
        out += ["", "An upper bound, not a detector: the diagnosis's scoring in every dyadic band of every snapshot.", ""]
        out += _flat(record, ("when", "records"))
    else:
        out += [""] + _flat(record, ("when",))
    return out + [""]


def write_report(runs: list[dict[str, Any]], mode: str) -> None:
    m = machine()
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_all.py` from `bench/results/*.json` (each benchmark appends its records there;",
        "the latest of each is shown). Every benchmark measures its baseline in the same run.",
        "",
        f"- **written**: {datetime.now(UTC).isoformat(timespec='seconds')} ({mode})",
        (f"- **machine**: {m['nproc']} CPUs, {m['cpu']}, {m['memory']} memory, load average "
         f"{m['load_average']} at the end, Python {m['python']}, {m['platform']}"),
        "",
    ]
    if runs:
        lines += ["| benchmark | command | exit | wall (s) |", "|---|---|---:|---:|"]
        lines += [f"| {r['name']} | `{r['command']}` | {r['exit_code']} | {r['wall_s']} |" for r in runs]
        lines.append("")
    for path in sorted(RESULTS.glob("*.json")):
        record = latest(path.stem)
        if record is None or path.stem.endswith("_report"):
            continue
        lines += render(path.stem, record)
    REPORT.write_text("\n".join(lines).rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs of every benchmark")
    ap.add_argument("--only", help="comma-separated benchmark names")
    ap.add_argument("--report", action="store_true", help="do not run anything; rewrite RESULTS.md")
    args = ap.parse_args(argv)
    names = list(SCRIPTS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(SCRIPTS))
        if unknown:
            ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(SCRIPTS)}")
    runs = []
    if not args.report:
        for name in names:
            full, quick = SCRIPTS[name]
            print(f"== {name}", flush=True)
            runs.append(run_one(name, quick if args.quick else full))
    write_report(runs, "report only" if args.report else "quick" if args.quick else "full")
    print(REPORT.read_text())
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
