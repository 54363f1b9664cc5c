"""The web layer's own parts: the event bus, the snapshot keeper, metrics with real ingest counters,
the dashboard's static serving and headers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.events import EventBus
from api.snapshots import LatestSnapshots
from detectors.types import Snapshot
from tests.api.conftest import auth


def test_event_bus_filters_kinds_and_drops_oldest_when_full():
    async def run():
        bus = EventBus(queue_size=3)
        tickets_only = bus.subscribe({"ticket"})
        everything = bus.subscribe()
        for i in range(5):
            bus.publish("alert", {"i": i})
        bus.publish("ticket", {"n": "PF1"})
        await asyncio.sleep(0)
        got = [await everything.get(1) for _ in range(3)]
        assert [e.payload.get("i", e.payload.get("n")) for e in got] == [3, 4, "PF1"]
        assert everything.dropped == 3
        assert (await tickets_only.get(1)).payload == {"n": "PF1"}
        assert await tickets_only.get(0.01) is None
        bus.unsubscribe(tickets_only)
        bus.unsubscribe(everything)
        assert bus.subscribers == 0

    asyncio.run(run())


def test_closing_the_bus_ends_every_stream():
    async def run():
        bus = EventBus()
        sub = bus.subscribe()
        chunks = []

        async def consume():
            async for chunk in bus.stream(sub, heartbeat_s=10):
                chunks.append(chunk)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        bus.publish("alert", {"i": 1})
        await asyncio.sleep(0.01)
        bus.close()
        await asyncio.wait_for(task, 9)  # ends before the 10 s heartbeat (at once; 9 s for a loaded machine)
        assert chunks[0] == ": connected\n\n" and chunks[1].startswith("id: 1\nevent: alert")
        assert len(chunks) == 2
        late = bus.subscribe()
        assert [c async for c in bus.stream(late)] == [": connected\n\n"]

    asyncio.run(run())


def test_event_sse_format():
    e = EventBus().publish("ticket", {"ticket": "PF1", "status": "closed"})
    assert e.to_sse() == 'id: 1\nevent: ticket\ndata: {"ticket":"PF1","status":"closed"}\n\n'


def test_latest_snapshots_survive_a_restart(tmp_path):
    snap = Snapshot(ts=12.5, fs=2560.0, samples=np.arange(256, dtype=float), rpm=None, axis="y")
    LatestSnapshots(tmp_path).put("P-1", snap)
    back = LatestSnapshots(tmp_path).get("P-1")
    assert (back.ts, back.fs, back.rpm, back.axis) == (12.5, 2560.0, None, "y")
    assert np.allclose(back.samples, snap.samples)
    assert LatestSnapshots(tmp_path).get("P-2") is None
    with pytest.raises(ValueError, match="bad device id"):
        LatestSnapshots(tmp_path).put("../evil", snap)


def test_metrics_count_open_alerts_and_tickets_and_ingest(ctx, world, tokens):
    from ingest.metrics import IngestMetrics

    m = IngestMetrics()
    m.count("received", 5)
    m.reject("bad_json")
    m.observe_write(0.004)
    ctx.metrics = m
    from foreshock.detection import DetectionStats

    class Detection:
        stats = DetectionStats(snapshots=7, assessments=7, seconds=0.25, seq_missing=3)

    ctx.detection = Detection()
    text = TestClient(create_app(ctx)).get("/metrics").text
    assert "foreshock_detector_seconds_total 0.25" in text and "foreshock_detector_snapshots_total 7" in text
    assert "foreshock_messages_missing_total 3" in text  # lost before Foreshock (gaps in the units' seq)
    assert "foreshock_open_alerts 2" in text and "foreshock_open_tickets 1" in text
    assert "foreshock_ingest_received_total 5" in text
    assert 'foreshock_ingest_rejected_total{reason="bad_json"} 1' in text
    assert "foreshock_ingest_write_latency_seconds_count 1" in text


def test_readyz_pings_the_telemetry_store(ctx):
    client = TestClient(create_app(ctx))
    assert client.get("/readyz").json()["checks"]["telemetry_store"] == "ok"
    ctx.store.close()
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["telemetry_store"].startswith("error")


def test_dashboard_pages_are_served_with_strict_headers(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"] == "/ui/"
    for path in ("/ui/", "/ui/login", "/ui/unit", "/ui/tickets", "/ui/alerts", "/ui/reports"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "<script type=\"module\"" in r.text and "onclick=" not in r.text
    js = client.get("/static/js/common.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/static/vendor/uplot/uPlot.esm.js").status_code == 200
    assert client.get("/static/vendor/uplot/LICENSE").text.startswith("The MIT License")


def test_an_unknown_dashboard_page_is_a_404_that_links_to_the_fleet(client):
    """'/ui/tickts' (a typo) served the Fleet page with 200: the reader saw the fleet and not that the page
    they asked for does not exist. Every page the navigation and the pages link to is unchanged."""
    for path in ("/ui/tickts", "/ui/nope/deeper", "/ui/Tickets", "/ui/unit.html", "/ui/%3Cb%3Ex%3C%2Fb%3E"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert "does not exist" in r.text and '<a href="/ui/">' in r.text, path
        assert "<script" not in r.text and "script-src 'self'" in r.headers["content-security-policy"]
    assert "There is no page /ui/tickts" in client.get("/ui/tickts").text
    assert "<b>x</b>" not in client.get("/ui/%3Cb%3Ex%3C%2Fb%3E").text  # the path is shown as text
    fleet = client.get("/ui/").text
    for path in ("/ui", "/ui/", "/ui/?model=F-60", "/ui/index", "/ui/login", "/ui/unit", "/ui/unit?id=P-0001",
                 "/ui/tickets", "/ui/tickets/", "/ui/alerts", "/ui/complaints", "/ui/corrective", "/ui/reports"):
        r = client.get(path)
        assert r.status_code == 200 and '<script type="module"' in r.text, path
    assert client.get("/ui/index").text == fleet and client.get("/ui/tickets").text != fleet


def test_spectrum_without_model_data_has_shaft_markers_only(client, ctx, tokens):
    t = np.arange(4096) / 4096.0
    ctx.registry.create_unit("X-1")
    ctx.latest_snapshots.put("X-1", Snapshot(ts=1.0, fs=4096.0, samples=np.sin(2 * np.pi * 30 * t), rpm=1800))
    body = client.get("/api/v1/units/X-1/spectrum", headers=auth(tokens["viewer"])).json()
    assert {m["kind"] for m in body["markers"]} == {"shaft"} and body["zone_limits_mm_s"] is None
