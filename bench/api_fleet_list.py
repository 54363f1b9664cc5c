"""How the fleet list and the fleet summary of the API scale with the number of registered units.

A SQLite database is filled with ``--units`` units of one model (bulk inserts) and a saved detector
state for each (a state of the engine's real size, ~7 KB, and the latest assessment; 1 % of units
in ``warning`` with a time to failure, the rest ``healthy``). Then, through the API app in process
(FastAPI's test client, a viewer token), each request is timed (best of ``--repeat``):

- ``GET /api/v1/units?limit=50`` (the dashboard's first page), ``&offset=N-50`` (the last page),
  ``&sort=health``, ``&sort=ttf``, ``&health=warning``, and ``GET /api/v1/units/summary``.

Baseline in the same run: ``GET /api/v1/units/{id}`` of one unit (a request that reads one unit
and its health), so the table shows how many single-unit requests one fleet request costs.

    .venv/bin/python bench/api_fleet_list.py [--units 10000 100000] [--repeat 3]

Appends to ``bench/results/api_fleet_list.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results" / "api_fleet_list.json"
REQUESTS = {
    "first page": "/api/v1/units?limit=50",
    "last page": "/api/v1/units?limit=50&offset={last}",
    "sort=health": "/api/v1/units?limit=50&sort=health",
    "sort=ttf": "/api/v1/units?limit=50&sort=ttf",
    "health=warning": "/api/v1/units?limit=50&health=warning",
    "summary": "/api/v1/units/summary",
}


def _positive(text: str) -> int:
    n = int(text)
    if n < 100:
        raise argparse.ArgumentTypeError(f"needs at least 100 units, got {n}")
    return n


def fill(ctx, n: int) -> None:
    """``n`` units and their detector states, inserted in bulk."""
    from sqlalchemy import insert

    from devices.models import Unit
    from devices.registry import Registry
    from foreshock.models import DetectorState

    model = Registry(ctx.session_factory).create_model("PUMP-6205", rated_rpm=1780.0)
    now = datetime.now(UTC)
    state = json.dumps({"monitor": {"pad": "x" * 7000}, "last_ts": {}})
    with ctx.session_factory() as s:
        for lo in range(0, n, 5000):
            ids = [f"P-{i:07d}" for i in range(lo, min(lo + 5000, n))]
            s.execute(insert(Unit), [{"device_id": d, "model_id": model.id, "customer": "ACME", "site": "S1",
                                      "presence": "online", "created_at": now, "updated_at": now} for d in ids])
            rows = []
            for k, d in enumerate(ids):
                warn = (lo + k) % 100 == 7
                a = {"ts": 1.0, "state": "warning" if warn else "healthy", "reasons": ["r"],
                     "features": {"rms_g": 0.1}, "evidence": [],
                     **({"failure_mode": "outer_race", "ttf_s": 3600.0 * (1 + (lo + k) % 500)} if warn else {})}
                rows.append({"device_id": d, "state_json": state, "health": a["state"],
                             "assessment_json": json.dumps({"assessment": a}), "updated_at": now})
            s.execute(insert(DetectorState), rows)
        s.commit()


def best_of(client, url: str, headers: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            sys.exit(f"{url}: HTTP {r.status_code} {r.text[:200]}")
    return min(times)


def measure(n: int, repeat: int) -> dict:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.testing import context_for
    from api.tokens import create_token
    from devices.registry import Registry

    with tempfile.TemporaryDirectory(prefix="foreshock-fleetlist-") as tmp:
        ctx = context_for(f"sqlite:///{tmp}/fleet.db")
        ctx.registry = Registry(ctx.session_factory)
        t0 = time.perf_counter()
        fill(ctx, n)
        print(f"{n:,} units: filled in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        with ctx.session_factory() as s:
            _, secret = create_token(session=s, name="bench", role="viewer")
            s.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        out: dict = {"units": n}
        with TestClient(create_app(ctx)) as client:
            out["baseline one unit"] = best_of(client, "/api/v1/units/P-0000007", headers, repeat)
            for name, url in REQUESTS.items():
                out[name] = best_of(client, url.format(last=n - 50), headers, repeat)
                print(f"  {name}: {out[name] * 1000:.0f} ms", file=sys.stderr, flush=True)
        ctx.session_factory.kw["bind"].dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=_positive, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3, choices=range(1, 21), metavar="1..20")
    ap.add_argument("--label", default="", help="a note stored with the record")
    args = ap.parse_args()
    rows = [measure(n, args.repeat) for n in args.units]
    print("| units | one unit (baseline) | " + " | ".join(REQUESTS) + " |")
    print("|---:|---:|" + "---:|" * len(REQUESTS))
    for r in rows:
        base = r["baseline one unit"]
        cells = [f"{r[k] * 1000:.0f} ms ({r[k] / base:.0f}×)" for k in REQUESTS]
        print(f"| {r['units']:,} | {base * 1000:.1f} ms | " + " | ".join(cells) + " |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append({"when": datetime.now(UTC).isoformat(timespec="seconds"), "label": args.label,
                    "command": ".venv/bin/python bench/api_fleet_list.py " + " ".join(sys.argv[1:]),
                    "rows": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]})
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
