"""The telemetry store is down under load and the spool fills up: ingest spools what fits, then holds
the rest unacknowledged (the broker keeps it); when influxd returns, everything is written, once.

Complements tests/ingest/test_store_outage.py (replay order, bad data) with the full-spool decision
on real servers: stop acknowledging, never drop.
"""

from __future__ import annotations

import uuid

import pytest

from devices import protocol
from foreshock.broker import free_port
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.influx1 import Influx1Store
from ingest.deadletter import DeadLetterStore
from ingest.service import IngestService
from tests.ingest.conftest import wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
from tests.tsdb_servers import InfluxdServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 10_000


def test_store_down_spool_full_holds_unacknowledged_then_everything_written_once(mosquitto, publisher, tmp_path):
    port = free_port()
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"load-{uuid.uuid4().hex[:8]}"},
        telemetry={"backend": "influx1", "url": f"http://127.0.0.1:{port}", "database": "load",
                   "batch_size": 500, "flush_interval_s": 0.05, "max_retries": 1, "max_retry_time_s": 0.5,
                   "timeout_s": 2},
        ingest={"spool_max_bytes": 1024 * 1024},
    )
    store = Influx1Store.from_settings(settings.telemetry)
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None,
                            probe_interval_s=0.2)
    service.start()
    server = InfluxdServer(workdir=tmp_path / "influxd", port=port)
    try:
        assert service.source.wait_connected(10)
        t0 = protocol.now_ms() - 3_600_000
        for i in range(N):
            values = {"load": float(i), "temperature_c": 40.5, "current_a": 12.25, "speed_rpm": 1800.0,
                      "velocity_mm_s": 2.75}
            publisher.client.publish(protocol.topic("P-LOAD", "telemetry"),
                                     protocol.telemetry_payload(t0 + i, i, values), qos=1)
        wait_until(lambda: service.metrics.get("spool_full_waits") > 0, 60, what="the spool to fill up")
        m = service.metrics
        assert m.get("points_written") == 0 and m.get("acked") < N  # the overflow is held, not acknowledged
        assert 0 < service.spool.size_bytes <= 1024 * 1024

        (tmp_path / "influxd").mkdir()
        server.start()
        wait_until(lambda: service.metrics.get("acked") >= N, 120, what="every message after the store returned")
        service.stop(10)
        rows = store.query("telemetry", "P-LOAD", t0, t0 + N, ["load"], limit=2 * N)
        assert [r.fields["load"] for r in rows] == [float(i) for i in range(N)]  # all, once, in time order
        snap = service.metrics.snapshot()
        assert snap["rejected"] == {} and snap["points_spooled"] + snap["points_written"] >= N
    finally:
        service.stop(2)
        store.close()
        server.stop()
        engine.dispose()
