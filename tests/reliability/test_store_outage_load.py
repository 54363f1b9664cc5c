"""The telemetry store is down under load: ingest keeps accepting, spools, and replays in order.

- the spool fills up: ingest spools what fits, then holds the rest unacknowledged (the broker
  keeps it); when influxd returns, everything is written, once;
- an outage of minutes: influxd stopped for 120 s while a publisher keeps sending at a steady rate
  through the real broker; everything is spooled, replayed in order, written once.

Complements tests/ingest/test_store_outage.py (replay order, bad data) with real servers and time.
"""

from __future__ import annotations

import threading
import time

import pytest

from devices import protocol
from tests.ingest.conftest import wait_until
from tests.reliability.conftest import influx_ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 10_000
OUTAGE_S = 120.0
RATE_PER_S = 20.0


def _values(i: int) -> dict[str, float]:
    return {"load": float(i), "temperature_c": 40.5, "current_a": 12.25, "speed_rpm": 1800.0, "velocity_mm_s": 2.75}


def test_store_down_spool_full_holds_unacknowledged_then_everything_written_once(mosquitto, publisher, tmp_path):
    with influx_ingest(mosquitto, tmp_path, "load", ingest={"spool_max_bytes": 1024 * 1024}) as (service, store,
                                                                                                  server):
        t0 = protocol.now_ms() - 3_600_000
        for i in range(N):
            publisher.client.publish(protocol.topic("P-LOAD", "telemetry"),
                                     protocol.telemetry_payload(t0 + i, i, _values(i)), qos=1)
        wait_until(lambda: service.metrics.get("spool_full_waits") > 0, 60, what="the spool to fill up")
        m = service.metrics
        assert m.get("points_written") == 0 and m.get("acked") < N  # the overflow is held, not acknowledged
        assert 0 < service.spool.size_bytes <= 1024 * 1024

        server.start()
        wait_until(lambda: service.metrics.get("acked") >= N, 120, what="every message after the store returned")
        service.stop(10)
        rows = store.query("telemetry", "P-LOAD", t0, t0 + N, ["load"], limit=2 * N)
        assert [r.fields["load"] for r in rows] == [float(i) for i in range(N)]  # all, once, in time order
        snap = service.metrics.snapshot()
        assert snap["rejected"] == {} and snap["points_spooled"] + snap["points_written"] >= N


class _SteadyPublisher(threading.Thread):
    """Publishes telemetry of one unit at ``rate`` messages per second until stopped; counts what it sent."""

    def __init__(self, publisher, device: str, t0: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.publisher, self.device, self.t0, self.period = publisher, device, t0, 1.0 / rate
        self.sent = 0
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            start = time.monotonic()
            while not self.halt.is_set():
                i = self.sent
                self.publisher.publish(protocol.topic(self.device, "telemetry"),
                                       protocol.telemetry_payload(self.t0 + i * 1000, i, _values(i)))
                self.sent += 1
                self.halt.wait(max(0.0, start + self.sent * self.period - time.monotonic()))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_store_down_for_minutes_while_publishing_everything_replayed_in_order(mosquitto, publisher, tmp_path,
                                                                             record_property):
    with influx_ingest(mosquitto, tmp_path, "outage") as (service, store, server):
        server.start()
        t0 = protocol.now_ms() - 86_400_000
        pub = _SteadyPublisher(publisher, "P-OUT", t0, RATE_PER_S)
        pub.start()
        try:
            wait_until(lambda: service.metrics.get("points_written") >= 100, 30, what="writes before the outage")
            server.stop()
            down_at = pub.sent
            time.sleep(OUTAGE_S)  # the outage itself: the publisher keeps sending
            # ... for at least OUTAGE_S and 80 % of its messages (a loaded machine publishes slower)
            wait_until(lambda: pub.sent - down_at >= 0.8 * OUTAGE_S * RATE_PER_S or pub.error is not None, 120,
                       what="80 % of the outage's messages published")
            during = pub.sent - down_at
            spooled = service.metrics.get("points_spooled")
            assert spooled > 0 and service.spool.size_bytes > 0  # ingest kept accepting, on disk
            # ... and acknowledging while the store is down (waited for: it was "all but the last 5 s of
            # messages at once", which a slow machine missed)
            wait_until(lambda: service.metrics.get("acked") >= down_at + during, 60,
                       what="the outage's messages acknowledged while the store is down")
            server.start()
            wait_until(lambda: service.spool.size_bytes == 0, 60, what="the spool to be replayed")
            time.sleep(2.0)  # a little more traffic after the replay
        finally:
            pub.halt.set()
            pub.join(15)
        assert pub.error is None
        n = pub.sent
        wait_until(lambda: service.metrics.get("acked") >= n, 60, what="every message acknowledged")
        service.stop(10)
        rows = store.query("telemetry", "P-OUT", t0, t0 + n * 1000, ["load"], limit=2 * n)
        snap = service.metrics.snapshot()
        stored = [r.fields["load"] for r in rows]
        counts = {"sent": n, "sent_during_outage": during, "acked": snap["acked"], "rows_stored": len(rows),
                  "points_written": snap.get("points_written", 0), "points_spooled": spooled,
                  "points_replayed": snap.get("points_replayed", 0), "rejected": sum(snap["rejected"].values()),
                  "lost": len(set(range(n)) - {int(v) for v in stored})}
        for key, value in counts.items():  # in the JUnit XML (--junitxml) as well as printed (-s)
            record_property(key, value)
        print(f"\nstore down {OUTAGE_S:.0f} s at {RATE_PER_S:.0f} msg/s: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))
        assert stored == [float(i) for i in range(n)]  # every one, once, in order
        assert during >= 0.8 * OUTAGE_S * RATE_PER_S and snap["rejected"] == {}
        assert snap["points_replayed"] >= spooled
        assert snap["acked"] == n
