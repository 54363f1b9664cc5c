"""The Grafana dashboard: well-formed, and every query runs against a real influxd and returns data
written the way ingest writes it (the measurements of foreshock/tsdb/base.py)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = ROOT / "dashboards" / "foreshock-fleet.json"


def _targets(dash: dict) -> list[dict]:
    return [t for p in dash["panels"] for t in p.get("targets", [])]


def test_dashboard_is_well_formed():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "foreshock-fleet" and dash["templating"]["list"][0]["name"] == "device"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    datasource = (ROOT / "provisioning" / "datasources" / "foreshock.yaml").read_text()
    for p in dash["panels"]:
        assert p["datasource"]["uid"] in datasource, p["title"]
        assert p["targets"], p["title"]
    for t in _targets(dash):
        assert "$timeFilter" in t["query"] and "$device" in t["query"], t["query"]


def _expand(query: str) -> str:
    return (query.replace("$timeFilter", "time > now() - 2d").replace("$__interval", "1h")
            .replace("/^$device$/", "/^P-0001$/"))


@pytest.mark.integration
def test_every_query_returns_data_from_influxd(influxd):
    from foreshock.tsdb import Point
    from foreshock.tsdb.influx1 import Influx1Store

    db = f"g_{uuid.uuid4().hex[:8]}"
    store = Influx1Store(influxd.url, db)
    now = int(time.time() * 1000)
    pts = []
    for h in range(24):
        ts = now - h * 3600_000
        pts.append(Point("vibration", {"device": "P-0001", "axis": "x"},
                         {"rms_g": 0.1, "peak_g": 0.5, "crest": 5.0, "kurtosis": 3.1, "velocity_rms_mm_s": 1.5}, ts))
        pts.append(Point("health", {"device": "P-0001"}, {"state_code": 2, "ttf_s": 86400.0}, ts))
        pts.append(Point("telemetry", {"device": "P-0001"}, {"temperature_c": 41.0}, ts))
    store.write(pts)
    store.close()
    dash = json.loads(DASHBOARD.read_text())
    queries = [dash["templating"]["list"][0]["query"]] + [_expand(t["query"]) for t in _targets(dash)]
    for q in queries:
        r = httpx.get(f"{influxd.url}/query", params={"db": db, "q": q}, timeout=10)
        assert r.status_code == 200, (q, r.text)
        result = r.json()["results"][0]
        assert "error" not in result, (q, result)
        series = result.get("series") or []
        values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
        assert values, f"no data for {q}"
