"""The detectors' health points while the telemetry store is down: spooled with the telemetry and
written when it returns. They were written to the store directly, so those of an outage were lost
('health points not written (...)' in the log) and each batch waited out the store's retries."""

from __future__ import annotations

import uuid

import pytest

from devices import protocol
from foreshock.broker import free_port
from foreshock.service import Pipeline, PipelineOptions
from foreshock.settings import load_settings
from tests.ingest.conftest import wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
from tests.tsdb_servers import InfluxdServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UNIT = "H-0001"


def _health_ts(store, start_ms: int, end_ms: int) -> list[int]:
    return [row.ts_ms for row in store.query("health", UNIT, start_ms, end_ms)]


def test_health_points_of_an_outage_are_spooled_and_written_when_the_store_returns(mosquitto, publisher, tmp_path):
    port = free_port()
    (tmp_path / "influxd").mkdir()
    server = InfluxdServer(workdir=tmp_path / "influxd", port=port).start()
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"health-{uuid.uuid4().hex[:8]}"},
        telemetry={"backend": "influx1", "url": f"http://127.0.0.1:{port}", "database": "health_outage",
                   "flush_interval_s": 0.05, "max_retries": 1, "max_retry_time_s": 0.5, "timeout_s": 2},
        database={"url": f"sqlite:///{tmp_path / 'foreshock.db'}"},
    )
    pipe = Pipeline(settings, PipelineOptions(api=False, tick_interval_s=3600))
    pipe.store.create_database()
    pipe.registry.create_unit(UNIT)
    pipe.start()
    try:
        wait_until(lambda: pipe.ingest.connected, what="ingest to connect and subscribe")
        t0 = protocol.now_ms() - 120_000
        topic = protocol.topic(UNIT, "telemetry")

        def send(seqs: range) -> None:
            for i in seqs:
                publisher.publish(topic, protocol.telemetry_payload(t0 + i * 1000, i, {"temperature_c": 40.0 + i}))

        send(range(3))
        wait_until(lambda: len(_health_ts(pipe.store, t0, t0 + 3000)) == 3, what="health of the first 3 records")
        server.stop()
        send(range(3, 6))
        wait_until(lambda: pipe.ingest.metrics.get("points_spooled") >= 6,
                   what="3 telemetry and 3 health points spooled while the store is down")
        server.start()
        wait_until(lambda: pipe.ingest.metrics.store_up, what="the spool replayed")
        assert _health_ts(pipe.store, t0, t0 + 6000) == [t0 + i * 1000 for i in range(6)]
        assert len(pipe.store.query("telemetry", UNIT, t0, t0 + 6000)) == 6
    finally:
        pipe.stop(timeout_s=10)
        server.stop()
