"""Bad input: fuzzed payloads never escape the converter, every rejection names its reason, good
messages around bad ones are kept; the bad-payload zoo and a one-device flood through a real broker."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices import protocol
from devices.protocol import Reason
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.embedded import EmbeddedStore
from ingest.deadletter import DeadLetterStore
from ingest.pipeline import Converter
from ingest.ratelimit import DeviceRateLimiter
from ingest.service import IngestService
from ingest.types import RawMessage
from tests.ingest.conftest import wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

REASONS = {r.value for r in Reason}
NOW = time.time()


def _good(i: int) -> RawMessage:
    return RawMessage("foreshock/v1/P-GOOD/telemetry",
                      protocol.telemetry_payload(int(NOW * 1000) - 1000 + i, i, {"load": float(i)}), NOW)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
telemetry_like = st.fixed_dictionaries(
    {"ts": st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none()),
     "seq": st.one_of(st.integers(), st.floats(), st.none()),
     "values": st.dictionaries(st.text(max_size=12), json_values, max_size=4)},
    optional={"extra": json_values},
)
vibration_like = st.fixed_dictionaries(
    {"ts": st.integers(), "seq": st.integers(), "fs": st.one_of(st.floats(), st.integers(), st.text(max_size=3)),
     "axis": st.text(max_size=3), "samples": st.one_of(st.lists(st.floats(), max_size=40), st.text(max_size=40))},
    optional={"rpm": json_values, "encoding": st.text(max_size=8)},
)


def _dumps(doc) -> bytes:
    return json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    json_values.map(_dumps),
    telemetry_like.map(_dumps),
    vibration_like.map(_dumps),
    st.lists(telemetry_like, max_size=3).map(_dumps),
)
topics = st.one_of(
    st.sampled_from([protocol.topic("P-1", k) for k in ("telemetry", "vibration", "status", "health")]),
    st.text(max_size=40),
    st.builds(lambda d, k: f"foreshock/v1/{d}/{k}", st.text(max_size=12), st.text(max_size=10)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(st.tuples(topics, payloads), min_size=1, max_size=6))
def test_fuzzed_messages_never_escape_and_good_ones_around_them_are_kept(bad):
    batch = [_good(0)] + [RawMessage(t, p, NOW) for t, p in bad] + [_good(1)]
    accepted, rejected = Converter(device_check=None).convert(batch)  # no exception may escape
    assert len(accepted) + len(rejected) == len(batch)  # every message accounted for
    for dead in rejected:
        assert dead.reason in REASONS and dead.detail
    good = [a.raw for a in accepted if a.message.device_id == "P-GOOD"]
    assert good[0] is batch[0] and good[-1] is batch[-1]


@pytest.mark.parametrize("payload, reason", [
    (b"[" * 100_000 + b"]" * 100_000, "too_large"),  # deeply nested
    (b'{"ts": 1700000000000, "seq": 1, "values": {"t": NaN}}', "non_finite"),
    (b'{"ts": 1700000000000, "seq": 1, "values": {"t": -Infinity}}', "non_finite"),
    (b'{"ts": 1700000000000, "seq": 1, "values": {"t": 1e999}}', "non_finite"),
    (json.dumps({"ts": 1700000000000, "seq": 1, "values": {"t": 10**400}}).encode(), "schema"),  # int overflow
    (json.dumps({"ts": 1700000000000, "seq": 1, "values": {"t": "41"}}).encode(), "schema"),  # wrong type
    (json.dumps({"ts": 1700000000000, "seq": 1, "values": {"temp\u00e9\u2603": 1.0}}).encode(), "schema"),
    (json.dumps({"ts": 1, "seq": 1, "values": {"t": 1.0}}).encode(), "schema"),  # far past
    (json.dumps({"ts": 10**30, "seq": 1, "values": {"t": 1.0}}).encode(), "future_timestamp"),
    (b"\xff\xfe not utf-8", "bad_json"),
])
def test_each_bad_payload_gets_its_reason(payload, reason):
    raw = RawMessage("foreshock/v1/P-1/telemetry", payload, 1_700_000_000.0)
    accepted, rejected = Converter(device_check=None).convert([raw])
    assert accepted == [] and [d.reason for d in rejected] == [reason] and rejected[0].detail


def test_oversized_payload_rejected_by_its_limit():
    limits = protocol.Limits(max_payload_bytes=1024)
    raw = RawMessage("foreshock/v1/P-1/telemetry", b" " * 2000, NOW)
    _, rejected = Converter(device_check=None, limits=limits).convert([raw])
    assert rejected[0].reason == "too_large" and "1024" in rejected[0].detail


def test_rate_limiter_is_bounded_and_validates():
    limiter = DeviceRateLimiter(1.0, max_devices=3)
    for i in range(10):
        limiter.allow(f"P-{i}", 0.0)
    assert len(limiter) == 3
    with pytest.raises(ValueError, match="rate_per_s"):
        DeviceRateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        DeviceRateLimiter(1.0, burst=0.5)


@pytest.mark.integration
def test_bad_payloads_and_a_flood_through_the_broker_are_counted_and_good_ones_stored(mosquitto, publisher,
                                                                                      tmp_path):
    """A flood from P-FLOOD (rate-limited), bad payloads from P-BAD, and a well-behaved P-OK in between;
    and P-BACKLOG's 10 messages stamped a second apart, arriving at once as a backlog does after an
    outage: sent at the unit's pace, they all pass (the limiter once judged them by their arrival)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    dead_letters = DeadLetterStore(session_factory(engine))
    store = EmbeddedStore(tmp_path / "t.db")
    settings_ = load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"bad-{uuid.uuid4().hex[:8]}"},
        telemetry={"flush_interval_s": 0.05},
        ingest={"rate_limit_per_s": 5.0},
    )
    service = IngestService(settings_, store, dead_letters, device_check=None)
    service.start()
    try:
        assert service.source.wait_connected(60)
        t0 = protocol.now_ms() - 60_000
        bad = [b"not json", b'{"ts": 1, "seq": 1, "values": {}}', b'{"ts": 1700000000000, "values": {"t": NaN}}',
               json.dumps({"ts": t0, "seq": 1, "values": {"t": 10**400}}).encode(), b"[" * 5000 + b"]" * 5000]
        flood = 200
        for i in range(flood):
            publisher.client.publish(protocol.topic("P-FLOOD", "telemetry"),
                                     protocol.telemetry_payload(t0 + i, i, {"load": 1.0}), qos=1)
            if i % 40 == 0:
                k = i // 40
                publisher.publish(protocol.topic("P-BAD", "telemetry"), bad[k])
                publisher.publish(protocol.topic("P-OK", "telemetry"),
                                  protocol.telemetry_payload(t0 + k, k, {"load": float(k)}))
        backlog = 10
        for k in range(backlog):
            publisher.publish(protocol.topic("P-BACKLOG", "telemetry"),
                              protocol.telemetry_payload(t0 + 1000 * k, k, {"load": float(k)}))
        sent = flood + 2 * len(bad) + backlog
        wait_until(lambda: service.metrics.get("acked") >= sent, 30, what="every message acknowledged")
        service.stop(10)
        rejected = service.metrics.snapshot()["rejected"]
        limited = rejected.get("rate_limited", 0)
        flood_written = len(store.query("telemetry", "P-FLOOD", t0, t0 + flood))
        assert limited > 0 and flood_written + limited == flood  # the flood is cut, and every message counted
        assert [r.fields["load"] for r in store.query("telemetry", "P-OK", t0, t0 + 10)] == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert len(store.query("telemetry", "P-BACKLOG", t0, t0 + 1000 * backlog)) == backlog
        assert sum(v for k, v in rejected.items() if k != "rate_limited") == len(bad)
        _, total_limited = dead_letters.list(reason="rate_limited")
        assert total_limited == limited
    finally:
        service.stop(2)
        store.close()
        engine.dispose()
