"""Ingest's hand-off queue is bounded by payload bytes as well as by messages (``ingest.queue_bytes``).

Bounded by count only, a backlog of 8,192-sample snapshots (44 KB each) could hold 50,000 of them,
about 2.2 GB, in the service's memory while the store was slow (docs/deployment.md, "Memory while
ingest falls behind").
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import numpy as np
import pytest

from devices import protocol
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import SettingsError, load_settings
from foreshock.tsdb.embedded import EmbeddedStore
from ingest.buffer import HandOff
from ingest.deadletter import DeadLetterStore
from ingest.metrics import IngestMetrics
from ingest.service import IngestService
from tests.ingest.conftest import MIN_WAIT_S, wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

MiB = 1024**2


# -- the buffer ---------------------------------------------------------------------------------


def _put(buf: HandOff[bytes], item: bytes, timeout_s: float = 0.01) -> bool:
    return buf.put(item, timeout_s, len(item))


def _done(buf: HandOff[bytes], taken: list[bytes]) -> None:
    buf.done(sum(map(len, taken)))


def test_a_put_waits_when_the_bytes_would_go_over_even_with_room_for_more_messages():
    buf: HandOff[bytes] = HandOff(maxsize=100, max_bytes=10)
    assert _put(buf, b"123456") and _put(buf, b"7890")
    assert not _put(buf, b"x")  # 11 bytes: over, although 2 of 100 messages are queued
    assert buf.full_bound() == "bytes" and buf.nbytes == 10 and len(buf) == 2


def test_bytes_taken_stay_held_until_done():
    """The batch the worker has in hand counts: the bound is on all the payloads ingest holds."""
    buf: HandOff[bytes] = HandOff(maxsize=100, max_bytes=10)
    _put(buf, b"123456")
    batch = buf.take(10, 0.01)
    assert batch == [b"123456"] and len(buf) == 0 and buf.nbytes == 6
    assert _put(buf, b"7890")
    assert not _put(buf, b"x")
    _done(buf, batch)
    assert buf.nbytes == 4 and _put(buf, b"x")


def test_an_item_larger_than_the_bound_goes_alone_once_nothing_else_is_held():
    buf: HandOff[bytes] = HandOff(maxsize=100, max_bytes=10)
    _put(buf, b"1234")
    big = b"b" * 25
    assert not _put(buf, big)  # waits while anything is held ...
    _done(buf, buf.take(10, 0.01))
    assert _put(buf, big)  # ... then goes through: never a deadlock
    assert not _put(buf, b"1")  # and nothing joins it
    _done(buf, buf.take(10, 0.01))
    assert _put(buf, b"1") and buf.nbytes == 1


def test_the_count_bound_still_holds_and_is_named():
    buf: HandOff[bytes] = HandOff(maxsize=2, max_bytes=1000)
    assert _put(buf, b"a") and _put(buf, b"b") and not _put(buf, b"c")
    assert buf.full_bound() == "count"


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        HandOff(maxsize=10, max_bytes=0)


def test_a_producer_and_a_consumer_thread_keep_the_bound_and_the_order():
    """The byte count is two counters with one writer each (no lock): checked under real threads."""
    buf: HandOff[bytes] = HandOff(maxsize=1000, max_bytes=5000)
    rng = random.Random(7)
    items = [bytes([i % 256]) * rng.randint(1, 1200) for i in range(3000)] + [b"L" * 7000]  # the last is larger
    got: list[bytes] = []
    seen_by_consumer = [0]

    def consume() -> None:
        while len(got) < len(items):
            batch = buf.take(7, 1.0)
            got.extend(batch)
            seen_by_consumer[0] = max(seen_by_consumer[0], buf.nbytes)
            _done(buf, batch)

    consumer = threading.Thread(target=consume)
    consumer.start()
    seen_by_producer = 0
    for item in items[:-1]:
        assert _put(buf, item, MIN_WAIT_S)
        seen_by_producer = max(seen_by_producer, buf.nbytes)
    assert _put(buf, items[-1], MIN_WAIT_S)
    consumer.join(MIN_WAIT_S)
    assert got == items
    assert seen_by_producer <= 5000 and seen_by_consumer[0] <= 7000 and buf.nbytes == 0


# -- the setting --------------------------------------------------------------------------------


def test_the_default_is_256_mib():
    assert load_settings().ingest.queue_bytes == 256 * MiB


@pytest.mark.parametrize("value", ["0", "-1", "1000", "lots"])
def test_a_nonsense_queue_bytes_is_named(monkeypatch, value):
    monkeypatch.setenv("FORESHOCK_INGEST__QUEUE_BYTES", value)
    with pytest.raises(SettingsError, match=r"setting ingest\.queue_bytes \(FORESHOCK_INGEST__QUEUE_BYTES\): Input "
                                            r"should be (greater than or equal to 1048576|a valid integer)"):
        load_settings()


def test_queue_bytes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FORESHOCK_INGEST__QUEUE_BYTES", str(64 * MiB))
    assert load_settings().ingest.queue_bytes == 64 * MiB


# -- the metrics --------------------------------------------------------------------------------


def test_the_queue_gauges_are_read_from_the_queue_when_asked():
    """Set by the worker after each batch, the depth stood still while the worker waited on a slow store."""
    buf: HandOff[bytes] = HandOff(maxsize=10, max_bytes=100)
    metrics = IngestMetrics()
    metrics.watch_queue(buf)
    _put(buf, b"x" * 30)
    _put(buf, b"y" * 12)
    snap = metrics.snapshot()
    assert (snap["queue_depth"], snap["queue_bytes"]) == (2, 42)
    text = metrics.prometheus()
    assert "# TYPE foreshock_ingest_queue_bytes gauge\nforeshock_ingest_queue_bytes 42\n" in text
    assert "foreshock_ingest_queue_depth 2\n" in text


# -- the service --------------------------------------------------------------------------------


class _StalledStore(EmbeddedStore):
    """An embedded store whose writes wait until ``release`` is set (a store that stopped answering)."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.release = threading.Event()
        self.waiting = threading.Event()

    def write(self, points) -> None:
        self.waiting.set()
        if not self.release.wait(5 * MIN_WAIT_S):
            raise AssertionError("the test never released the store")
        super().write(points)


@pytest.mark.integration
def test_a_backlog_of_big_messages_with_a_stalled_store_stays_under_queue_bytes(mosquitto, publisher, tmp_path):
    """60 snapshots of 8,192 samples (44 KB each, 2.6 MB) and one of 65,536 samples as a JSON list (about
    1.3 MB, larger than the bound) arrive while the store does not answer: ingest holds at most 1 MiB of
    them, the broker the rest; when the store answers, every one is written once and acknowledged."""
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = _StalledStore(tmp_path / "t.db")
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"bytes-{uuid.uuid4().hex[:6]}"},
        telemetry={"flush_interval_s": 0.05, "batch_size": 4},
        ingest={"queue_bytes": MiB},  # the count bound (50,000) is far off
    )
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None)
    device = f"B-{uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(1)
    t0 = protocol.now_ms() - 600_000
    n = 60
    try:
        service.start()
        assert service.source.wait_connected(MIN_WAIT_S)
        for i in range(n):
            payload = protocol.vibration_payload(t0 + i, i, rng.normal(0, 1, 8192), 25_600.0)
            assert 40_000 < len(payload) < 50_000
            publisher.publish(f"foreshock/v1/{device}/vibration", payload)
        big = protocol.vibration_payload(t0 + n, n, rng.normal(0, 1, 65_536), 25_600.0, binary=False)
        assert len(big) > MiB
        publisher.publish(f"foreshock/v1/{device}/vibration", big)
        wait_until(lambda: service.metrics.get("queue_full_waits") > 0, what="the network thread to wait on the bound")
        # the worker may still be converting its first batch when the queue fills (a loaded machine)
        wait_until(store.waiting.is_set, what="the worker to wait on the stalled store")
        for _ in range(20):  # while the store stays stalled, the bound holds
            snap = service.metrics.snapshot()
            assert 0 < snap["queue_bytes"] <= MiB
            assert snap["queue_depth"] < n  # the broker holds the rest
            assert service.metrics.get("acked") == 0
            time.sleep(0.05)
        store.release.set()
        wait_until(lambda: service.metrics.get("acked") >= n + 1, what="every message once the store answers")
        rows = store.query("vibration", device, t0, t0 + n + 1, limit=1000)
        assert sorted(r.ts_ms for r in rows) == [t0 + i for i in range(n + 1)]  # each once
        assert service.metrics.get("acked") == n + 1
        wait_until(lambda: service.metrics.snapshot()["queue_bytes"] == 0, what="the queue to empty")
    finally:
        store.release.set()
        service.stop(5)
        store.close()
        engine.dispose()
