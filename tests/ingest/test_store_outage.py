"""The telemetry store goes away and comes back: spool, acknowledge, replay in order; bad data isolated."""

from __future__ import annotations

import threading
import uuid

import pytest

from devices import protocol
from foreshock.broker import free_port
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.base import Point, StoreUnavailable
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.retry import Retry
from ingest.deadletter import DeadLetterStore
from ingest.metrics import IngestMetrics
from ingest.service import IngestService
from ingest.spool import Spool
from ingest.writer import Outcome, StoreWriter
from tests.ingest.conftest import wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
from tests.tsdb_servers import InfluxdServer

TEL = "foreshock/v1/{}/telemetry"


@pytest.fixture
def dead_letters(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    yield DeadLetterStore(session_factory(engine))
    engine.dispose()


def _settings(mosquitto, url: str, tmp_path, db: str):
    return load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"ingest-{uuid.uuid4().hex[:8]}"},
        telemetry={"backend": "influx1", "url": url, "database": db, "flush_interval_s": 0.05,
                   "max_retries": 1, "max_retry_time_s": 0.5, "timeout_s": 2},
    )


def _started_with_store_down(mosquitto, port: int, tmp_path, dead_letters):
    """(ingest service, its store), started and connected to the broker, the store at ``port`` where nothing
    listens yet: the store is down."""
    settings = _settings(mosquitto, f"http://127.0.0.1:{port}", tmp_path, "outage")
    store = Influx1Store.from_settings(settings.telemetry)
    service = IngestService(settings, store, dead_letters, device_check=None, probe_interval_s=0.2)
    service.start()
    assert service.source.wait_connected(60)
    return service, store


def _publish(publisher, device: str, n: int) -> int:
    """``n`` telemetry records of ``device``, a minute old, one millisecond apart; the first one's time (ms)."""
    t0 = protocol.now_ms() - 60_000
    for i in range(n):
        publisher.publish(TEL.format(device), protocol.telemetry_payload(t0 + i, i, {"load": float(i)}))
    return t0


@pytest.mark.integration
@pytest.mark.slow
def test_spooled_while_down_replayed_in_order_when_back(mosquitto, publisher, tmp_path, dead_letters):
    port = free_port()
    service, store = _started_with_store_down(mosquitto, port, tmp_path, dead_letters)
    t0 = _publish(publisher, "P-0003", 10)
    wait_until(lambda: service.metrics.get("acked") >= 10, what="messages acknowledged while the store is down")
    assert service.metrics.get("points_spooled") == 10 and service.metrics.get("points_written") == 0
    assert not service.metrics.snapshot()["store_up"] and service.spool.size_bytes > 0

    server = InfluxdServer(workdir=tmp_path / "influxd", port=port)
    (tmp_path / "influxd").mkdir()
    server.start()
    try:
        wait_until(lambda: service.metrics.snapshot()["store_up"], 60, what="the store to be seen again")
        assert service.metrics.get("points_replayed") == 10 and service.spool.empty
        publisher.publish(TEL.format("P-0003"), protocol.telemetry_payload(t0 + 10, 10, {"load": 10.0}))
        wait_until(lambda: service.metrics.get("points_written") >= 1, what="a direct write after the outage")
        service.stop(10)
        rows = store.query("telemetry", "P-0003", t0, t0 + 100)
        assert [r.fields["load"] for r in rows] == [float(i) for i in range(11)]
    finally:
        store.close()
        server.stop()


@pytest.mark.integration
def test_points_the_store_refuses_are_dead_lettered_and_the_rest_written(mosquitto, influxd, publisher, tmp_path,
                                                                         dead_letters):
    db = f"c_{uuid.uuid4().hex[:8]}"
    settings = _settings(mosquitto, influxd.url, tmp_path, db)
    store = Influx1Store.from_settings(settings.telemetry)
    t0 = protocol.now_ms() - 60_000
    store.write([Point("telemetry", {"device": "P-0004"}, {"mode": "manual"}, t0 - 1)])  # 'mode' is a string field
    service = IngestService(settings, store, dead_letters, device_check=None)
    service.start()
    assert service.source.wait_connected(60)
    for i, values in enumerate([{"load": 1.0}, {"mode": 2.0}, {"load": 3.0}]):
        publisher.publish(TEL.format("P-0004"), protocol.telemetry_payload(t0 + i, i, values))
    wait_until(lambda: service.metrics.get("acked") >= 3, what="all three acknowledged")
    service.stop(10)
    rows, total = dead_letters.list(reason="store_rejected")
    assert total == 1 and b'"mode":2.0' in rows[0].payload and "field type conflict" in rows[0].detail
    assert [r.fields for r in store.query("telemetry", "P-0004", t0, t0 + 10, ["load"])] == [{"load": 1.0},
                                                                                           {"load": 3.0}]
    store.close()


class _DownStore:
    """A store that refuses writes and pings until ``up`` is set."""

    def __init__(self, up: bool = False) -> None:
        self.written: list[Point] = []
        self.up = up

    def write(self, points):
        if not self.up:
            raise StoreUnavailable("down for the test")
        self.written.extend(points)

    def ping(self):
        if not self.up:
            raise StoreUnavailable("down for the test")


def test_full_spool_holds_the_batch_until_the_store_returns(tmp_path):
    store = _DownStore()
    metrics = IngestMetrics()
    writer = StoreWriter(store, Spool(tmp_path, max_bytes=2048), metrics, probe_interval_s=0.01)
    big = [[Point("telemetry", {"device": "P-1"}, {"v": float(i)}, i) for i in range(200)]]
    abort = threading.Event()
    result: list = []
    thread = threading.Thread(target=lambda: result.append(writer.write(big, abort)))
    thread.start()
    wait_until(lambda: metrics.get("spool_full_waits") >= 2, what="the writer to wait on the full spool")
    assert result == []  # still held: the caller has not acknowledged anything
    store.up = True
    thread.join(60)
    assert result == [(Outcome.WRITTEN, {})] and len(store.written) == 200


def test_full_spool_and_stop_means_held(tmp_path):
    writer = StoreWriter(_DownStore(), Spool(tmp_path, max_bytes=2048), IngestMetrics(), probe_interval_s=0.01)
    abort = threading.Event()
    abort.set()
    big = [[Point("telemetry", {"device": "P-1"}, {"v": float(i)}, i) for i in range(200)]]
    assert writer.write(big, abort) == (Outcome.HELD, {})


def test_retry_gives_up_within_its_time_bound():
    calls = []

    def down():
        calls.append(1)
        raise StoreUnavailable("down")

    retry = Retry(max_retries=100, max_retry_time_s=1.0, base_s=10.0, sleep=lambda s: None)
    with pytest.raises(StoreUnavailable):
        retry.call(down)
    assert len(calls) < 100


class _BrokenOnce:
    """A store whose first write fails with an unexpected error (a bug, not an outage)."""

    def __init__(self, store) -> None:
        self.store, self.calls = store, 0

    def write(self, points):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("unexpected")
        self.store.write(points)

    def ping(self):
        self.store.ping()


@pytest.mark.integration
def test_unexpected_worker_error_retries_the_batch(mosquitto, publisher, tmp_path, dead_letters):
    from foreshock.tsdb.embedded import EmbeddedStore

    settings = _settings(mosquitto, "http://127.0.0.1:1", tmp_path, "unused")
    store = EmbeddedStore(tmp_path / "t.db")
    service = IngestService(settings, _BrokenOnce(store), dead_letters, device_check=None)
    service.start()
    assert service.source.wait_connected(60)
    t0 = protocol.now_ms() - 10_000
    publisher.publish(TEL.format("P-0008"), protocol.telemetry_payload(t0, 1, {"load": 1.0}))
    wait_until(lambda: service.metrics.get("acked") >= 1, what="the retried batch")
    service.stop(5)
    assert service.metrics.get("worker_errors") == 1 and service.ready is False
    assert [r.fields for r in store.query("telemetry", "P-0008", t0, t0 + 1)] == [{"load": 1.0}]
    store.close()


def test_a_store_down_at_start_is_reported_at_start(tmp_path, caplog):
    store = _DownStore()
    writer = StoreWriter(store, Spool(tmp_path), IngestMetrics(), probe_interval_s=0.01)
    with caplog.at_level("WARNING", logger="ingest"):
        assert writer.check() is False
    assert "not reachable at start (down for the test)" in caplog.text and str(tmp_path) in caplog.text
    store.up = True
    caplog.clear()
    assert writer.check() is True and caplog.text == ""


def test_a_long_outage_logs_a_line_a_minute_not_one_per_probe(tmp_path, caplog, monkeypatch):
    """Probes run every 2 s: an hour's outage logged about 1,800 'still unavailable' lines at INFO."""
    import logging

    import ingest.writer as writer_mod

    now = [1000.0]
    monkeypatch.setattr(writer_mod.time, "monotonic", lambda: now[0])
    writer = StoreWriter(_DownStore(), Spool(tmp_path), IngestMetrics(), probe_interval_s=2.0)
    writer.up = False
    with caplog.at_level(logging.INFO, logger="ingest.writer"):
        for _ in range(150):  # five minutes of probes
            writer.maintain()
            now[0] += 2.0
    lines = [r for r in caplog.records if "still unavailable" in r.getMessage() and r.levelno >= logging.INFO]
    assert len(lines) == 5  # one a minute
    assert "bytes spooled" in lines[0].getMessage()


def test_a_spool_the_disk_refuses_holds_the_batch_with_a_clear_error(tmp_path, caplog):
    """The spool's folder unusable (here: replaced by a file; a full or read-only disk alike) while the
    store is down. The OSError escaped the writer: the worker logged a traceback and retried blindly.
    Now the batch is held unacknowledged, the error names the spool, and it is spooled once it can be."""
    import shutil

    store = _DownStore()
    metrics = IngestMetrics()
    spool_dir = tmp_path / "spool"
    writer = StoreWriter(store, Spool(spool_dir), metrics, probe_interval_s=0.01)
    shutil.rmtree(spool_dir)
    spool_dir.write_text("not a folder")
    batch = [[Point("telemetry", {"device": "P-1"}, {"v": 1.0}, 1)]]
    result: list = []
    with caplog.at_level("ERROR", logger="ingest.writer"):
        thread = threading.Thread(target=lambda: result.append(writer.write(batch, threading.Event())))
        thread.start()
        wait_until(lambda: metrics.get("spool_write_errors") >= 2, what="the writer to hold the batch")
        assert result == []  # held: nothing acknowledged
        spool_dir.unlink()
        spool_dir.mkdir()
        thread.join(60)
    assert result == [(Outcome.SPOOLED, {})] and metrics.get("points_spooled") == 1
    assert f"cannot write to the spool {spool_dir}: Not a directory: holding 1 points unacknowledged" in caplog.text
    store.up = True
    writer._next_probe = 0.0  # the probe is due
    writer.maintain()
    assert store.written == batch[0] and writer.spool.empty


@pytest.mark.integration
def test_a_spooled_point_the_store_refuses_costs_only_that_point(influxd, tmp_path):
    """The store refuses one spooled point as bad data (a field-type conflict) when the spool is replayed:
    the whole spooled batch (up to telemetry.batch_size messages, all acknowledged) was skipped."""
    db = f"r_{uuid.uuid4().hex[:8]}"
    store = Influx1Store(influxd.url, db, retry=Retry(max_retries=0))
    t0 = protocol.now_ms() - 60_000
    store.write([Point("telemetry", {"device": "P-0009"}, {"mode": "manual"}, t0 - 1)])  # 'mode': a string field
    spool = Spool(tmp_path / "spool")
    spool.append([Point("telemetry", {"device": "P-0009"}, {"load": float(i)}, t0 + i) for i in range(5)]
                 + [Point("telemetry", {"device": "P-0009"}, {"mode": 2.0}, t0 + 5)]
                 + [Point("telemetry", {"device": "P-0009"}, {"load": float(i)}, t0 + i) for i in range(6, 9)])
    metrics = IngestMetrics()
    writer = StoreWriter(store, spool, metrics, probe_interval_s=0.01)
    assert not writer.up  # a spool left by the last run: replayed first
    writer.maintain()
    assert writer.up and spool.empty
    rows = store.query("telemetry", "P-0009", t0, t0 + 10, ["load"])
    assert [r.ts_ms - t0 for r in rows] == [0, 1, 2, 3, 4, 6, 7, 8]
    assert metrics.get("points_replayed") == 8 and metrics.get("points_refused_on_replay") == 1
    store.close()


def test_a_device_check_the_database_cannot_answer_is_one_line_and_the_batch_kept(tmp_path, dead_letters, caplog):
    """With the relational database unreachable, the device check's failure logged a traceback of about
    125 lines for every retry of the batch, once a second for the whole outage."""
    import logging
    import time

    from sqlalchemy.exc import OperationalError

    from ingest.types import RawMessage

    def down(device_id):
        raise OperationalError("SELECT 1", {}, Exception("connection refused\nmore"))

    service = IngestService(load_settings(data_dir=tmp_path), None, dead_letters, device_check=down)
    service.writer = service.source = object()  # never reached: the batch stops at the device check
    raw = RawMessage(TEL.format("P-1"), protocol.telemetry_payload(protocol.now_ms(), 1, {"load": 1.0}), time.time())
    with caplog.at_level(logging.ERROR, logger="ingest.service"):
        assert service._process([raw]) is False  # kept: retried, not acknowledged
    [record] = caplog.records
    assert record.exc_info is None
    assert record.getMessage() == ("device check failed (the batch of 1 messages is retried): database unavailable "
                                   "(OperationalError: connection refused); trying again later")


@pytest.mark.integration
def test_a_stop_with_telemetry_still_spooled_says_so_and_where(mosquitto, publisher, tmp_path, dead_letters, caplog):
    """Stopped while the store was down (an upgrade during an InfluxDB outage), the service said only
    'stopped': nothing told the operator that acknowledged telemetry was left in the spool, which only a later
    start replays, and which a wiped or moved data_dir would lose."""
    import logging

    service, store = _started_with_store_down(mosquitto, free_port(), tmp_path, dead_letters)  # nothing listens
    _publish(publisher, "P-0007", 3)
    wait_until(lambda: service.metrics.get("points_spooled") >= 3, what="points spooled while the store is down")
    left = service.spool.size_bytes
    with caplog.at_level(logging.INFO, logger="ingest.service"):
        service.stop(10)
    store.close()
    said = [m for m in caplog.messages if "still spooled" in m]
    assert said == [f"{left} bytes of telemetry (acknowledged to the broker) still spooled in {tmp_path / 'spool'}: "
                    "the next start writes them to the store when it answers; keep that folder (data_dir) until then"], \
        caplog.messages
