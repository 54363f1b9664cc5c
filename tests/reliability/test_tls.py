"""MQTT over TLS: ingest connects to a real Mosquitto TLS listener with the configured CA (generated
here with openssl); a client that does not trust the server's CA is refused the connection; with
mutual TLS, ingest presents ``mqtt.cert_file``/``key_file`` and a certificate of another CA is refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices import protocol
from foreshock.broker import MosquittoBroker, free_port
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.embedded import EmbeddedStore
from ingest.deadletter import DeadLetterStore
from ingest.service import IngestService
from tests.ingest.conftest import wait_until

pytestmark = [pytest.mark.integration]

USER, PASSWORD = "platform", "tls-secret"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> tuple[Path, Path]:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)
    return d / f"{name}.crt", d / f"{name}.key"


def make_cert(d: Path, ca: tuple[Path, Path], name: str, subject: str) -> tuple[Path, Path]:
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={subject}", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt", cwd=d)
    return d / f"{name}.crt", d / f"{name}.key"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    ca = make_ca(d, "ca")
    rogue = make_ca(d, "rogue")
    cert, key = make_cert(d, ca, "server", "127.0.0.1")
    broker = MosquittoBroker(workdir=d / "mqtt", users={USER: PASSWORD},
                             tls={"cafile": ca[0], "certfile": cert, "keyfile": key, "port": free_port()})
    broker.start()
    yield broker, ca[0], rogue[0]
    broker.cleanup()


@pytest.fixture(scope="module")
def mutual_tls_broker(tmp_path_factory):
    """A TLS listener that also requires a client certificate signed by the CA (mutual TLS)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("mtls")
    ca = make_ca(d, "ca")
    rogue = make_ca(d, "rogue")
    cert, key = make_cert(d, ca, "server", "127.0.0.1")
    client = make_cert(d, ca, "client", "foreshock-ingest")
    stranger = make_cert(d, rogue, "stranger", "foreshock-ingest")
    broker = MosquittoBroker(workdir=d / "mqtt", users={USER: PASSWORD},
                             tls={"cafile": ca[0], "certfile": cert, "keyfile": key, "port": free_port()},
                             extra_config="require_certificate true")  # applies to the last listener: TLS
    broker.start()
    yield broker, ca[0], client, stranger
    broker.cleanup()


def _tls_client(broker, cafile: Path) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(USER, PASSWORD)
    client.tls_set(ca_certs=str(cafile), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return client


def test_ingest_over_tls_with_the_configured_ca(tls_broker, tmp_path):
    broker, ca, _ = tls_broker
    port = broker.tls["port"]
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = EmbeddedStore(tmp_path / "t.db")
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": f"mqtts://127.0.0.1:{port}", "username": USER, "password": PASSWORD, "ca_file": str(ca),
              "client_id": f"ingest-tls-{uuid.uuid4().hex[:6]}"},
        telemetry={"flush_interval_s": 0.05},
    )
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None)
    service.start()
    pub = _tls_client(broker, ca)
    try:
        assert service.source.wait_connected(60), "ingest did not connect over TLS"
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        t0 = protocol.now_ms() - 10_000
        for i in range(20):
            pub.publish(protocol.topic("P-TLS", "telemetry"),
                        protocol.telemetry_payload(t0 + i, i, {"load": float(i)}), qos=1).wait_for_publish(60)
        wait_until(lambda: service.metrics.get("acked") >= 20, what="the messages sent over TLS")
        assert len(store.query("telemetry", "P-TLS", t0, t0 + 20)) == 20
    finally:
        pub.disconnect()
        pub.loop_stop()
        service.stop(5)
        store.close()
        engine.dispose()


def test_a_client_that_does_not_trust_the_servers_ca_is_refused(tls_broker):
    broker, _, rogue_ca = tls_broker
    client = _tls_client(broker, rogue_ca)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.connect("127.0.0.1", broker.tls["port"])


def test_plain_mqtt_client_cannot_speak_to_the_tls_listener(tls_broker):
    broker, _, _ = tls_broker
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"plain-{uuid.uuid4().hex[:8]}")
    client.username_pw_set(USER, PASSWORD)
    client.connect("127.0.0.1", broker.tls["port"])
    connected = []
    client.on_connect = lambda c, u, f, rc, p: connected.append(rc)
    for _ in range(20):
        client.loop(0.1)
    assert not any(not rc.is_failure for rc in connected)  # never a successful CONNACK
    client.disconnect()


def _ingest_connects(broker, ca: Path, cert: tuple[Path, Path], tmp_path: Path) -> bool:
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    store = EmbeddedStore(tmp_path / "t.db")
    settings = load_settings(
        data_dir=tmp_path,
        mqtt={"url": f"mqtts://127.0.0.1:{broker.tls['port']}", "username": USER, "password": PASSWORD,
              "ca_file": str(ca), "cert_file": str(cert[0]), "key_file": str(cert[1]),
              "client_id": f"ingest-mtls-{uuid.uuid4().hex[:6]}"},
    )
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None)
    try:
        service.start(connect_timeout_s=3)  # waits up to 3 s for the connection and subscription
        return service.connected
    finally:
        service.stop(2)
        store.close()
        engine.dispose()


def test_mutual_tls_client_certificate_from_settings(mutual_tls_broker, tmp_path):
    broker, ca, client, stranger = mutual_tls_broker
    assert _ingest_connects(broker, ca, client, tmp_path / "ok")  # mqtt.cert_file / key_file are used
    assert not _ingest_connects(broker, ca, stranger, tmp_path / "stranger")  # a certificate of another CA
