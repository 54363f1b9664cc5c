"""How the alert, ticket and dead-letter lists of the API scale with years of history.

Nothing in Foreshock deletes alerts, tickets or their audit trail (docs/deployment.md, "What grows"),
so a long-running service's lists are read over every row ever written. A SQLite database is filled
in bulk with ``--rows`` alerts, as many tickets (each with 4 audit events, as the fleet soak
measured per failure), as many dead letters, over 10,000 units; 2 % of alerts and tickets are
open. Then, through the API app in process (FastAPI's test client, an engineer token), each request
is timed (best of ``--repeat``):

- alerts: the first page, the last page, ``status=open``, one unit's (``device_id``);
- tickets: the first page, the last page, ``open=true``, one unit's;
- dead letters: the first page, the reasons;
- the dashboard's tickets page reads ``open=true&limit=500`` and ``open=false&limit=100``.

Baseline in the same run: ``GET /api/v1/alerts/{id}`` of one alert.

    .venv/bin/python bench/api_history_list.py [--rows 10000 100000] [--repeat 3]

Appends to ``bench/results/api_history_list.json``.
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

RESULTS = Path(__file__).resolve().parent / "results" / "api_history_list.json"
REQUESTS = {
    "alerts first": "/api/v1/alerts?limit=50",
    "alerts last": "/api/v1/alerts?limit=50&offset={last}",
    "alerts open": "/api/v1/alerts?status=open&limit=50",
    "alerts one unit": "/api/v1/alerts?device_id=P-00042&limit=50",
    "tickets first": "/api/v1/tickets?limit=50",
    "tickets last": "/api/v1/tickets?limit=50&offset={last}",
    "tickets open": "/api/v1/tickets?open=true&limit=50",
    "tickets one unit": "/api/v1/tickets?device_id=P-00042&limit=50",
    "dashboard open 500": "/api/v1/tickets?open=true&limit=500",
    "dashboard closed 100": "/api/v1/tickets?open=false&limit=100",
    "dead letters first": "/api/v1/dead-letters?limit=50",
    "dead letter reasons": "/api/v1/dead-letters/reasons",
}
UNITS = 10_000
MODES = ("outer_race", "inner_race", "ball", "imbalance", "misalignment")


def _rows(text: str) -> int:
    n = int(text)
    if n < 1000:
        raise argparse.ArgumentTypeError(f"needs at least 1000 rows, got {n}")
    return n


def fill(ctx, n: int) -> str:
    """``n`` alerts, tickets (4 events each) and dead letters, in bulk; returns a ticket number."""
    from sqlalchemy import insert

    from alerts.models import Alert, Ticket, TicketEvent
    from ingest.models import DeadLetter

    now = time.time()
    span = 3 * 365 * 86400.0  # three years of history
    with ctx.session_factory() as s:
        for lo in range(0, n, 5000):
            idx = range(lo, min(lo + 5000, n))
            tickets, alerts, events, dead = [], [], [], []
            for i in idx:
                at = now - span * (1 - i / n)
                is_open = i >= n - n // 50  # the newest 2 % are open, each on a unit of its own
                unit = f"P-{(i if is_open else i % UNITS):05d}"
                mode = MODES[i % len(MODES)]
                tickets.append({"id": i + 1, "number": f"PF{i:09d}", "kind": "unit", "device_id": unit,
                                "failure_mode": mode, "grade": "major", "status": "received" if is_open else "closed",
                                "is_open": is_open, "title": f"{mode} on {unit}", "model": "P-1800",
                                "customer": "ACME", "site": "S1", "opened_at": at, "response_due": at + 86400,
                                "resolution_due": at + 7 * 86400, "closed_at": None if is_open else at + 86400,
                                "eight_d": {}, "comments": [], "source": "proactive"})
                alerts.append({"id": i + 1, "device_id": unit, "failure_mode": mode, "severity": "warning",
                               "grade": "major", "status": "open" if is_open else "cleared", "is_open": is_open,
                               "flapping": False, "raised_at": at, "cleared_at": None if is_open else at + 3600,
                               "last_ts": at, "ticket_id": i + 1, "detail": {"reasons": ["bench"]}})
                for k, action in enumerate(("opened", "linked", "regraded", "closed" if not is_open else "commented")):
                    events.append({"ticket_id": i + 1, "at": at + k, "actor": "system", "action": action,
                                   "detail": {"note": "bench"}})
                dead.append({"received_at": datetime.fromtimestamp(at, UTC), "device_id": unit,
                             "topic": f"foreshock/v1/{unit}/telemetry", "reason": "bad_json",
                             "detail": "not valid JSON", "payload": b"{not json", "payload_size": 9})
            s.execute(insert(Ticket), tickets)
            s.execute(insert(Alert), alerts)
            s.execute(insert(TicketEvent), events)
            s.execute(insert(DeadLetter), dead)
        s.commit()
    return f"PF{n // 2:09d}"


def best_of(client, url: str, headers: dict, repeat: int) -> tuple[float, int | None]:
    times, count = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            sys.exit(f"{url}: HTTP {r.status_code} {r.text[:300]}")
        body = r.json()
        count = body.get("count") if isinstance(body, dict) else None
    return min(times), count


def measure(n: int, repeat: int) -> dict:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.testing import context_for
    from api.tokens import create_token

    with tempfile.TemporaryDirectory(prefix="foreshock-history-") as tmp:
        ctx = context_for(f"sqlite:///{tmp}/history.db")
        from ingest.deadletter import DeadLetterStore

        ctx.deadletters = DeadLetterStore(ctx.session_factory)
        t0 = time.perf_counter()
        ticket = fill(ctx, n)
        print(f"{n:,} rows each: filled in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        with ctx.session_factory() as s:
            _, secret = create_token(session=s, name="bench", role="engineer")
            s.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        out: dict = {"rows": n}
        with TestClient(create_app(ctx)) as client:
            best_of(client, "/api/v1/me", headers, 1)  # warm-up: the first request pays for imports
            out["baseline one alert"], _ = best_of(client, f"/api/v1/alerts/{n // 2}", headers, repeat)
            for name, url in REQUESTS.items():
                out[name], count = best_of(client, url.format(last=n - 50, ticket=ticket), headers, repeat)
                print(f"  {name}: {out[name] * 1000:.0f} ms (count {count})", file=sys.stderr, flush=True)
        ctx.session_factory.kw["bind"].dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=_rows, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3, choices=range(1, 21), metavar="1..20")
    ap.add_argument("--label", default="", help="a note stored with the record")
    args = ap.parse_args()
    rows = [measure(n, args.repeat) for n in args.rows]
    print("| rows | one alert (baseline) | " + " | ".join(REQUESTS) + " |")
    print("|---:|---:|" + "---:|" * len(REQUESTS))
    for r in rows:
        base = r["baseline one alert"]
        cells = [f"{r[k] * 1000:.0f} ms ({r[k] / base:.0f}×)" for k in REQUESTS]
        print(f"| {r['rows']:,} | {base * 1000:.1f} ms | " + " | ".join(cells) + " |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append({"when": datetime.now(UTC).isoformat(timespec="seconds"), "label": args.label,
                    "command": ".venv/bin/python bench/api_history_list.py " + " ".join(sys.argv[1:]),
                    "rows": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]})
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
