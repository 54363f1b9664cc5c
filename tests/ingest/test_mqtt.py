"""The MQTT source: shared subscriptions, reconnect after a broker restart, metrics text."""

from __future__ import annotations

import uuid

import pytest

from devices import protocol
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.embedded import EmbeddedStore
from ingest.deadletter import DeadLetterStore
from ingest.metrics import IngestMetrics
from ingest.mqtt import _BufferedSocket, topic_filters
from ingest.service import IngestService
from tests.ingest.conftest import Publisher, wait_until
from tests.servers import start_broker


def test_topic_filters_plain_and_shared():
    assert topic_filters("plant", None) == ["plant/v1/+/telemetry", "plant/v1/+/vibration", "plant/v1/+/status"]
    assert topic_filters("plant", "workers")[1] == "$share/workers/plant/v1/+/vibration"
    with pytest.raises(ValueError, match="shared_group"):
        topic_filters("plant", "a/b")


class _Chunks:
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def recv(self, n: int) -> bytes:
        if not self.chunks:
            raise BlockingIOError
        return self.chunks.pop(0)


def test_buffered_socket_serves_small_reads_from_one_recv():
    sock = _BufferedSocket(_Chunks(b"\x30\x05hello", b"\x40"))
    assert sock.recv(1) == b"\x30" and sock.pending() == 6
    assert sock.recv(1) == b"\x05" and sock.recv(100) == b"hello" and sock.pending() == 0
    assert sock.recv(1) == b"\x40"
    with pytest.raises(BlockingIOError):
        sock.recv(1)


def test_metrics_prometheus_text():
    m = IngestMetrics()
    m.count("received", 5)
    m.reject("schema", 2)
    m.observe_write(0.003)
    text = m.prometheus()
    assert "foreshock_ingest_received_total 5" in text
    assert 'foreshock_ingest_rejected_total{reason="schema"} 2' in text
    assert 'foreshock_ingest_write_latency_seconds_bucket{le="0.005"} 1' in text
    with pytest.raises(KeyError, match="unknown ingest counter"):
        m.count("nope")


@pytest.mark.integration
@pytest.mark.slow
def test_reconnects_and_resubscribes_after_a_broker_restart_and_shares_load(tmp_path):
    broker = start_broker(workdir=tmp_path / "mqtt")
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = EmbeddedStore(tmp_path / "t.db")
    services = []
    for i in range(2):
        settings = load_settings(
            data_dir=tmp_path / f"w{i}",
            mqtt={"url": broker.url, "client_id": f"worker-{i}-{uuid.uuid4().hex[:6]}", "shared_group": "ingest",
                  "reconnect_min_s": 0.5, "reconnect_max_s": 1.0},
            telemetry={"flush_interval_s": 0.05},
        )
        services.append(IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None))
    try:
        for s in services:
            s.start()
            assert s.source.wait_connected(60)
        pub = Publisher(broker)
        t0 = protocol.now_ms() - 60_000
        for i in range(40):
            pub.publish("foreshock/v1/P-0005/telemetry", protocol.telemetry_payload(t0 + i, i, {"load": float(i)}))
        wait_until(lambda: sum(s.metrics.get("acked") for s in services) >= 40, what="the first 40 messages")
        assert all(s.metrics.get("acked") > 0 for s in services)  # the shared group split them
        pub.close()
        broker.restart()
        wait_until(lambda: all(s.connected for s in services), 30, what="both workers to reconnect")
        pub = Publisher(broker)
        for i in range(40, 60):
            pub.publish("foreshock/v1/P-0005/telemetry", protocol.telemetry_payload(t0 + i, i, {"load": float(i)}))
        wait_until(lambda: sum(s.metrics.get("acked") for s in services) >= 60, what="messages after the restart")
        pub.close()
        for s in services:
            s.stop(5)
        rows = store.query("telemetry", "P-0005", t0, t0 + 100)
        assert [r.fields["load"] for r in rows] == [float(i) for i in range(60)]
    finally:
        for s in services:
            s.stop(2)
        store.close()
        broker.cleanup()
        engine.dispose()


@pytest.mark.integration
def test_full_queue_holds_the_stream_and_loses_nothing(mosquitto, publisher, tmp_path):
    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = EmbeddedStore(tmp_path / "t.db")
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"slow-{uuid.uuid4().hex[:6]}"},
        telemetry={"flush_interval_s": 0.05, "batch_size": 5},
        ingest={"queue_size": 10},
    )
    release = __import__("threading").Event()
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None,
                            on_batch=lambda msgs: release.wait(20))
    service.start()
    assert service.source.wait_connected(60)
    t0 = protocol.now_ms() - 60_000
    for i in range(60):
        publisher.client.publish("foreshock/v1/P-0006/telemetry",
                                 protocol.telemetry_payload(t0 + i, i, {"load": float(i)}), qos=1)
    wait_until(lambda: service.metrics.get("queue_full_waits") > 0, what="the network thread to wait on the full queue")
    release.set()
    wait_until(lambda: service.metrics.get("acked") >= 60, 30, what="every message after the worker resumed")
    service.stop(5)
    assert len(store.query("telemetry", "P-0006", t0, t0 + 100)) == 60
    store.close()
    engine.dispose()


@pytest.mark.integration
def test_publishes_retained_health_on_its_connection(mosquitto, tmp_path):
    import threading

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    settings = load_settings(data_dir=tmp_path, mqtt={"url": mosquitto.url, "username": PLATFORM_USER,
                                                      "password": PLATFORM_PASSWORD,
                                                      "client_id": f"pub-{uuid.uuid4().hex[:6]}"})
    store = EmbeddedStore(tmp_path / "t.db")
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None)
    service.start()
    assert service.source.wait_connected(60)
    topic = protocol.topic("P-0007", "health")
    service.source.publish(topic, protocol.health_payload("watch", protocol.now_ms()), retain=True)
    got: list[bytes] = []
    seen = threading.Event()
    reader = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"r-{uuid.uuid4().hex[:6]}")
    reader.username_pw_set(PLATFORM_USER, PLATFORM_PASSWORD)
    reader.on_connect = lambda c, *a: c.subscribe(topic, 1)
    reader.on_message = lambda c, u, m: (got.append(m.payload), seen.set())
    reader.connect(mosquitto.host, mosquitto.port)
    reader.loop_start()
    try:
        assert seen.wait(60), "the retained health message did not arrive"
        assert protocol.json.loads(got[0])["state"] == "watch"
    finally:
        reader.disconnect()
        reader.loop_stop()
        service.stop(5)
        store.close()
        engine.dispose()


def _connection_log_line(caplog, mqtt: dict, level: int, needle: str) -> tuple[str, bool]:
    """Start a source with these MQTT settings; the first log line containing ``needle`` (waited
    for) and whether the source connected."""
    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource

    settings = load_settings(mqtt={**mqtt, "reconnect_min_s": 1, "reconnect_max_s": 1})
    caplog.set_level(level, logger="ingest.mqtt")
    source = MqttSource(settings.mqtt, HandOff(10), IngestMetrics(), client_id=f"t-{uuid.uuid4().hex[:8]}")
    source.start(timeout_s=0.1)
    try:
        wait_until(lambda: any(needle in r.getMessage() for r in caplog.records), what=f"{needle!r} in the log")
    finally:
        source.stop()
    return next(r.getMessage() for r in caplog.records if needle in r.getMessage()), source.connected


def test_an_unreachable_broker_is_named_in_the_log_while_retrying(caplog):
    """Nothing listening at mqtt.url: the log said once 'not connected after 10 s; still trying' and
    then nothing, whatever the cause. Now the failed connection itself is named, with the address."""
    import logging

    from foreshock.broker import free_port

    port = free_port()  # nothing listens here
    line, connected = _connection_log_line(caplog, {"url": f"mqtt://127.0.0.1:{port}"}, logging.WARNING,
                                           "cannot reach the MQTT broker")
    assert f"nothing answers at 127.0.0.1:{port} (connection refused)" in line and "FORESHOCK_MQTT__URL" in line
    assert "does not resolve" not in line  # the refusal is known: no other guess (it said "or the name does not resolve")
    assert not connected


def test_a_broker_name_that_does_not_resolve_is_named_as_such(caplog):
    """A host name that does not resolve was reported as 'nothing answers at host:1883, or the name does
    not resolve': the cause is known, and said alone."""
    import logging

    line, connected = _connection_log_line(caplog, {"url": "mqtt://no-such-broker.invalid:1883"}, logging.WARNING,
                                           "cannot reach the MQTT broker")
    assert "the name 'no-such-broker.invalid' does not resolve" in line and "nothing answers" not in line, line
    assert not connected


def test_two_services_with_one_client_id_are_named_as_such(mosquitto, caplog):
    """A second ingest with the same mqtt.client_id takes the session; the first reconnects and
    takes it back, forever (MQTT 3.1.1 says nothing about why). Both now log the likely cause."""
    import logging

    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource
    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

    settings = load_settings(mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
                                   "reconnect_min_s": 1, "reconnect_max_s": 1})
    caplog.set_level(logging.WARNING, logger="ingest.mqtt")
    same = f"twin-{uuid.uuid4().hex[:6]}"
    sources = [MqttSource(settings.mqtt, HandOff(10), IngestMetrics(), client_id=same) for _ in range(2)]
    for s in sources:
        s.start(timeout_s=5)
    try:
        wait_until(lambda: any("same client id" in r.getMessage() for r in caplog.records), 60,
                   what="the takeover named in the log")
    finally:
        for s in sources:
            s.stop()
    line = next(r.getMessage() for r in caplog.records if "same client id" in r.getMessage())
    assert repr(same) in line and "FORESHOCK_MQTT__CLIENT_ID" in line


def test_one_early_drop_or_drops_of_long_connections_are_not_called_a_takeover(caplog):
    """A broker restart closes a connection once; connections that lasted are not early drops."""
    import logging

    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource

    settings = load_settings(mqtt={"url": "mqtt://127.0.0.1:1"})
    caplog.set_level(logging.ERROR, logger="ingest.mqtt")
    metrics = IngestMetrics()
    source = MqttSource(settings.mqtt, HandOff(10), metrics, client_id="x")
    for start in (0.0, 1000.0, 2000.0, 3000.0):  # four connections of 100 s each
        source._connected_at = start
        source._note_drop(start + 100.0)
    source._connected_at = 4000.0
    source._note_drop(4005.0)  # one early drop
    assert metrics.get("connections_dropped_early") == 1
    assert not [r for r in caplog.records if "same client id" in r.getMessage()]
    for start in (4010.0, 4020.0):  # two more within the window: three early drops
        source._connected_at = start
        source._note_drop(start + 2.0)
    assert [r for r in caplog.records if "same client id" in r.getMessage()]


def test_a_wrong_password_is_named_with_the_settings_to_check(mosquitto, caplog):
    """'refused the connection: Not authorized' named neither the setting nor where the user is kept."""
    import logging

    from tests.servers import PLATFORM_USER

    line, connected = _connection_log_line(
        caplog, {"url": mosquitto.url, "username": PLATFORM_USER, "password": "not-the-password"}, logging.ERROR,
        "refused the connection")
    assert "FORESHOCK_MQTT__PASSWORD" in line and "mqtt.username" in line and not connected


def test_an_mqtts_url_to_a_plain_port_mentions_tls(mosquitto, caplog):
    """mqtts:// to a port that speaks plain MQTT was reported as 'nothing answers ... or the name does
    not resolve', which sent people looking at the network."""
    import logging

    line, _ = _connection_log_line(caplog, {"url": mosquitto.url.replace("mqtt://", "mqtts://")}, logging.WARNING,
                                   "cannot reach the MQTT broker")
    assert "TLS handshake failed" in line and "plain MQTT" in line


def test_a_lost_connection_is_called_that_not_an_unspecified_error(caplog):
    """A broker stopped (or a network cut) was logged as `disconnected from … (Unspecified error)`:
    paho's name for a closed socket under MQTT 3.1.1, which carries no reason; it read like a bug."""
    import logging

    from paho.mqtt.client import MQTT_ERR_CONN_LOST, convert_disconnect_error_code_to_reason_code
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource

    settings = load_settings(mqtt={"url": "mqtt://127.0.0.1:1"})
    source = MqttSource(settings.mqtt, HandOff(10), IngestMetrics(), client_id="x")
    with caplog.at_level(logging.WARNING, logger="ingest.mqtt"):
        source._answered = True  # connections the broker had answered (else: test_a_plain_url_to_a_tls_listener…)
        source._on_disconnect(None, None, None, convert_disconnect_error_code_to_reason_code(MQTT_ERR_CONN_LOST), None)
        source._answered = True
        source._on_disconnect(None, None, None, ReasonCode(PacketTypes.DISCONNECT, "Keep alive timeout"), None)
    assert caplog.messages == [
        "disconnected from mqtt://127.0.0.1:1 (the connection was closed or lost); reconnecting with backoff",
        "disconnected from mqtt://127.0.0.1:1 (Keep alive timeout); reconnecting with backoff",
    ]


def test_a_broker_restarted_again_and_again_is_not_called_a_takeover(caplog):
    """Mosquitto restarted six times, a few seconds apart, while ingest ran (walk-through 2026-11-22): at
    the third restart ingest logged an ERROR that another client probably had the same client id, though
    each drop was followed by 'cannot reach the MQTT broker' (it was down). A drop after which the broker
    cannot be reached is the broker going away, not a takeover."""
    import logging

    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource

    settings = load_settings(mqtt={"url": "mqtt://127.0.0.1:1"})
    caplog.set_level(logging.ERROR, logger="ingest.mqtt")
    source = MqttSource(settings.mqtt, HandOff(10), IngestMetrics(), client_id="x")
    for start in (0.0, 8.0, 16.0, 24.0, 32.0, 40.0):
        source._connected_at = start
        source._note_drop(start + 5.0)
        source._on_connect_fail(None, None)  # the broker is down: nothing answers
    assert not [r for r in caplog.records if "same client id" in r.getMessage()]
    for start in (50.0, 60.0, 70.0):  # then three drops the broker answers right after: a takeover
        source._connected_at = start
        source._note_drop(start + 2.0)
    assert [r for r in caplog.records if "same client id" in r.getMessage()]


def test_a_server_clock_stepped_back_while_running_does_not_refuse_every_unit(monkeypatch):
    """The server's clock stepped back an hour while ingest ran (an NTP step, a VM restored): every unit's
    message, stamped correctly, was more than ingest.future_tolerance_s ahead of the receive time, so all
    were dead-lettered as future_timestamp and acknowledged, their snapshots cut to the dead-letter size.
    The receive time does not go back with the wall clock while the service runs."""
    import time
    import types

    import paho.mqtt.client as paho_client

    import ingest.mqtt as mqtt_mod
    from devices import protocol
    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource
    from ingest.pipeline import Converter

    true_now = time.time()
    settings = load_settings(mqtt={"url": "mqtt://127.0.0.1:1"})
    queue: HandOff = HandOff(10)
    source = MqttSource(settings.mqtt, queue, IngestMetrics(), client_id="x")
    stepped = types.SimpleNamespace(time=lambda: true_now - 3600.0, monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr(mqtt_mod, "time", stepped)  # the wall clock stepped back an hour
    msg = paho_client.MQTTMessage(mid=1, topic=b"foreshock/v1/P-0001/telemetry")
    msg.payload = protocol.telemetry_payload(int(true_now * 1000), 1, {"load": 1.0})
    msg.qos = 1
    source._on_message(None, None, msg)
    (raw,) = queue.take(1, 1.0)
    accepted, rejected = Converter(device_check=None).convert([raw])
    assert [d.reason for d in rejected] == [] and len(accepted) == 1


def test_a_plain_url_to_a_tls_listener_is_named_with_mqtts(tmp_path, caplog):
    """mqtt:// to the broker's TLS listener (the units' 8883): the broker closed every attempt during the
    TLS handshake and the log said only 'disconnected from … (the connection was closed or lost);
    reconnecting with backoff', at every retry, naming neither the cause nor the setting."""
    import logging

    from foreshock.broker import free_port
    from tests.tsdb_servers import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    broker = start_broker(workdir=tmp_path / "broker", tls={"cafile": cert, "certfile": cert, "keyfile": key,
                                                           "port": free_port()})
    try:
        line, connected = _connection_log_line(caplog, {"url": f"mqtt://127.0.0.1:{broker.tls['port']}"},
                                               logging.WARNING, "did not answer as an MQTT broker")
    finally:
        broker.cleanup()
    assert not connected
    assert line.startswith(f"the server at mqtt://127.0.0.1:{broker.tls['port']} took the connection but did not "
                           "answer as an MQTT broker (it closed the connection; 1 failed attempt(s) so far)"), line
    assert "a TLS listener needs mqtts://" in line and "FORESHOCK_MQTT__URL" in line, line
    assert not [m for m in caplog.messages if m.startswith("disconnected from")]  # not called a lost connection


def test_a_broker_certificate_not_trusted_or_not_for_the_host_is_named_as_such(tmp_path, caplog):
    """mqtts:// to the broker's TLS listener with a CA that did not sign its certificate (or a URL naming a host
    the certificate is not for) was reported as 'nothing answers at …, or the name does not resolve, or the
    TLS handshake failed (…)': three guesses, though the check had said which certificate failed and why."""
    import logging

    from foreshock.broker import free_port
    from tests.tsdb_servers import self_signed_certificate

    (tmp_path / "other").mkdir()
    cert, key = self_signed_certificate(tmp_path)  # for 127.0.0.1 only
    other, _ = self_signed_certificate(tmp_path / "other")
    broker = start_broker(workdir=tmp_path / "broker", tls={"cafile": cert, "certfile": cert, "keyfile": key,
                                                           "port": free_port()})
    port = broker.tls["port"]
    try:
        untrusted, connected = _connection_log_line(
            caplog, {"url": f"mqtts://127.0.0.1:{port}", "ca_file": str(other)}, logging.WARNING,
            "TLS certificate was refused")
        assert not connected
        caplog.clear()
        wrong_host, connected = _connection_log_line(
            caplog, {"url": f"mqtts://localhost:{port}", "ca_file": str(cert)}, logging.WARNING,
            "TLS certificate was refused")
        assert not connected
    finally:
        broker.cleanup()
    assert untrusted.startswith(f"the MQTT broker at mqtts://127.0.0.1:{port} answered, but its TLS certificate was "
                                "refused (certificate verify failed"), untrusted
    assert f"not signed by the CA certificate(s) in mqtt.ca_file {other}" in untrusted, untrusted
    assert "FORESHOCK_MQTT__CA_FILE" in untrusted and "nothing answers" not in untrusted, untrusted
    assert "mismatch" in wrong_host and "does not name 'localhost'" in wrong_host, wrong_host


def _fail_to_connect(settings, client_id: str, what: str) -> None:
    """An MQTT source started with ``settings`` until its third failed attempt to connect, then stopped."""
    from ingest.buffer import HandOff
    from ingest.mqtt import MqttSource

    source = MqttSource(settings.mqtt, HandOff(10), IngestMetrics(), client_id=client_id)
    source.start(timeout_s=0.1)
    try:
        wait_until(lambda: source._connect_failures >= 3, what=what)
    finally:
        source.stop()


def test_a_server_that_never_answers_mqtt_is_named_once_not_at_every_retry(caplog):
    """mqtt.url at a port whose server takes the connection and stays silent (InfluxDB's HTTP port): 'not
    connected after 10 s', then 'disconnected (Keep alive timeout)' at every retry."""
    import logging
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"mqtt://127.0.0.1:{silent.getsockname()[1]}"
        settings = load_settings(mqtt={"url": url, "keepalive_s": 1, "reconnect_min_s": 1, "reconnect_max_s": 1})
        caplog.set_level(logging.WARNING, logger="ingest.mqtt")
        _fail_to_connect(settings, "silent", "three attempts the server did not answer")
    said = [m for m in caplog.messages if "did not answer as an MQTT broker" in m]
    assert len(said) == 1, caplog.messages  # the first attempt, then at most once a minute
    assert said[0].startswith(f"the server at {url} took the connection but did not answer as an MQTT broker "
                              "(Keep alive timeout; 1 failed attempt(s) so far)"), said[0]
    assert not [m for m in caplog.messages if m.startswith("disconnected from")]


def test_a_refused_login_is_said_once_a_minute_not_twice_per_retry(mosquitto, caplog):
    """A wrong mqtt.password logged 'refused the connection: Not authorized' and then 'disconnected from …
    (the connection was closed or lost)' at every retry (every 30 s for ever, 5,760 lines a day)."""
    import logging

    from tests.servers import PLATFORM_USER

    settings = load_settings(mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": "not-the-password",
                                   "reconnect_min_s": 1, "reconnect_max_s": 1})
    caplog.set_level(logging.INFO, logger="ingest.mqtt")
    _fail_to_connect(settings, f"t-{uuid.uuid4().hex[:8]}", "three refused logins")
    refused = [m for m in caplog.messages if "refused the connection" in m]
    assert len(refused) == 1, caplog.messages
    assert refused[0].startswith(f"MQTT broker {mosquitto.url} refused the connection: Not authorized (1 failed "
                                 "attempt(s) so far)"), refused[0]
    assert not [m for m in caplog.messages if m.startswith("disconnected from")], caplog.messages
