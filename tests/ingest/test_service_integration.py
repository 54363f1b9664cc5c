"""Real Mosquitto -> IngestService -> real influxd; rejects end in the dead letters."""

from __future__ import annotations

import time

import numpy as np
import pytest

from devices import protocol
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.influx1 import Influx1Store
from ingest.deadletter import DeadLetterStore
from ingest.service import IngestService
from tests.ingest.conftest import wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

pytestmark = pytest.mark.integration

KNOWN = {"P-0001", "P-0002"}


def _settings(mosquitto, influx_url: str, tmp_path, unique: str, **ingest):
    return load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"ingest-{unique}"},
        telemetry={"backend": "influx1", "url": influx_url, "database": f"fs_{unique}", "flush_interval_s": 0.05,
                   "max_retries": 1, "max_retry_time_s": 1.0},
        ingest=ingest,
    )


@pytest.fixture
def dead_letters(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    yield DeadLetterStore(session_factory(engine))
    engine.dispose()


def test_good_and_bad_messages_end_to_end(mosquitto, influxd, publisher, tmp_path, unique, dead_letters):
    settings = _settings(mosquitto, influxd.url, tmp_path, unique)
    store = Influx1Store.from_settings(settings.telemetry)
    handed: list = []
    service = IngestService(settings, store, dead_letters, device_check=KNOWN.__contains__,
                            auto_register=False, on_batch=handed.extend)
    service.start()
    assert service.source.wait_connected(60)
    t0 = protocol.now_ms() - 60_000
    rng = np.random.default_rng(1)
    sent = [
        ("foreshock/v1/P-0001/telemetry", protocol.telemetry_payload(t0, 1, {"temperature_c": 40.0})),
        ("foreshock/v1/P-0001/telemetry", b"{not json"),
        ("foreshock/v1/P-0001/telemetry", protocol.telemetry_payload(t0 + 1000, 2, {"temperature_c": 41.0})),
        ("foreshock/v1/P-9999/telemetry", protocol.telemetry_payload(t0, 1, {"temperature_c": 1.0})),
        ("foreshock/v1/P-0001/telemetry", b'{"ts": %d, "seq": 3, "values": {"t": NaN}}' % t0),
        ("foreshock/v1/P-0001/telemetry", protocol.telemetry_payload(t0 + 3_600_000 * 2, 4, {"t": 1.0})),
        ("foreshock/v1/P-0002/vibration",
         protocol.vibration_payload(t0, 1, rng.normal(0, 1, 4096), 25600.0, axis="y", rpm=1780.0)),
        ("foreshock/v1/P-0002/status", protocol.status_payload("online", t0, "1.2.3")),
        ("foreshock/v1/P-0001/telemetry", protocol.telemetry_payload(t0 + 2000, 5, {"temperature_c": 42.0})),
    ]
    for topic, payload in sent:
        publisher.publish(topic, payload)
    wait_until(lambda: service.metrics.get("acked") >= len(sent), what="all messages acknowledged")
    assert service.stop(10)

    rows = store.query("telemetry", "P-0001", t0 - 1, t0 + 10_000)
    assert [(r.ts_ms, r.fields["temperature_c"]) for r in rows] == [(t0, 40.0), (t0 + 1000, 41.0), (t0 + 2000, 42.0)]
    vib = store.query("vibration", "P-0002", t0 - 1, t0 + 1, tags={"axis": "y"})
    assert len(vib) == 1 and vib[0].fields["n"] == 4096 and vib[0].fields["rpm"] == 1780.0
    assert 0.9 < vib[0].fields["rms_g"] < 1.1

    counts = dead_letters.count_by_reason()
    assert counts == {"bad_json": 1, "unknown_device": 1, "non_finite": 1, "future_timestamp": 1}
    rows, total = dead_letters.list(device="P-9999")
    assert total == 1 and rows[0].reason == "unknown_device" and rows[0].topic.endswith("P-9999/telemetry")
    assert service.metrics.snapshot()["rejected"] == counts

    kinds = sorted(m.kind for m in handed)
    assert kinds == ["status", "telemetry", "telemetry", "telemetry", "vibration"]
    vib_msg = next(m for m in handed if m.kind == "vibration")
    assert vib_msg.features is not None and "kurtosis" in vib_msg.features
    store.close()


def test_redelivered_message_leaves_one_point(mosquitto, influxd, publisher, tmp_path, unique, dead_letters):
    settings = _settings(mosquitto, influxd.url, tmp_path, unique)
    store = Influx1Store.from_settings(settings.telemetry)
    service = IngestService(settings, store, dead_letters, device_check=None)
    service.start()
    assert service.source.wait_connected(60)
    t0 = protocol.now_ms() - 10_000
    payload = protocol.telemetry_payload(t0, 7, {"vibration_rms": 0.5})
    publisher.publish("foreshock/v1/P-0001/telemetry", payload)
    publisher.publish("foreshock/v1/P-0001/telemetry", payload)  # the same message again, as a redelivery
    wait_until(lambda: service.metrics.get("acked") >= 2, what="both deliveries acknowledged")
    service.stop(10)
    rows = store.query("telemetry", "P-0001", t0 - 1, t0 + 1)
    assert len(rows) == 1 and rows[0].fields == {"vibration_rms": 0.5}
    store.close()


def test_persistent_session_keeps_messages_while_ingest_is_down(
    mosquitto, influxd, publisher, tmp_path, unique, dead_letters
):
    settings = _settings(mosquitto, influxd.url, tmp_path, unique)
    store = Influx1Store.from_settings(settings.telemetry)
    first = IngestService(settings, store, dead_letters, device_check=None)
    first.start()
    assert first.source.wait_connected(60)
    first.stop(5)  # the session (client id and subscriptions) stays at the broker
    t0 = protocol.now_ms() - 10_000
    for i in range(20):
        publisher.publish("foreshock/v1/P-0002/telemetry", protocol.telemetry_payload(t0 + i, i, {"speed_rpm": i}))
    second = IngestService(settings, store, dead_letters, device_check=None)
    second.start()
    wait_until(lambda: second.metrics.get("acked") >= 20, what="the messages published while ingest was down")
    second.stop(5)
    rows = store.query("telemetry", "P-0002", t0, t0 + 20)
    assert [r.fields["speed_rpm"] for r in rows] == [float(i) for i in range(20)]
    store.close()
    time.sleep(0)


class _WritesThenHangs:
    """Writes, then blocks before returning: ingest 'crashes' after the write and before the ack."""

    def __init__(self, store) -> None:
        self.store = store
        self.release = __import__("threading").Event()
        self.writes = 0

    def write(self, points) -> None:
        self.store.write(points)
        self.writes += 1
        self.release.wait(30)

    def ping(self) -> None:
        self.store.ping()


def test_unacknowledged_message_is_redelivered_and_stored_once(
    mosquitto, influxd, publisher, tmp_path, unique, dead_letters
):
    settings = _settings(mosquitto, influxd.url, tmp_path, unique)
    store = Influx1Store.from_settings(settings.telemetry)
    hanging = _WritesThenHangs(store)
    first = IngestService(settings, hanging, dead_letters, device_check=None)
    first.start()
    assert first.source.wait_connected(60)
    t0 = protocol.now_ms() - 10_000
    publisher.publish("foreshock/v1/P-0001/telemetry", protocol.telemetry_payload(t0, 9, {"load": 9.0}))
    wait_until(lambda: hanging.writes == 1, what="the first write")
    first.source.stop()  # the connection drops before the acknowledgement
    assert first.metrics.get("acked") == 0
    second = IngestService(settings, store, dead_letters, device_check=None)
    second.start()
    wait_until(lambda: second.metrics.get("acked") >= 1, what="the broker to redeliver the message")
    hanging.release.set()
    first.stop(2)
    second.stop(5)
    rows = store.query("telemetry", "P-0001", t0 - 1, t0 + 1)
    assert len(rows) == 1 and rows[0].fields == {"load": 9.0}
    store.close()
