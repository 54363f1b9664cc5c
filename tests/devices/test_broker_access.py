"""Provisioned credentials and the ACL against a real Mosquitto 2 broker."""

from __future__ import annotations

import queue
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from devices.broker_config import write_broker_config
from devices.credentials import verify_password
from devices.protocol import topic
from foreshock.broker import MosquittoBroker, mosquitto_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mosquitto_available(), reason="mosquitto is not installed"),
]

PLATFORM = ("foreshock", "platform-secret")
WAIT_S = 60.0  # generous bound on waiting for the broker (a loaded CI machine); never a speed assertion


class Client:
    """A small synchronous wrapper around paho for the tests."""

    def __init__(self, port: int, username: str, password: str, will: tuple[str, bytes] | None = None, *,
                 client_id: str | None = None, clean_session: bool = True) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.result: str | None = None
        self.subacks: queue.Queue[list] = queue.Queue()
        self.session_present: bool | None = None
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                             clean_session=clean_session)
        self.c.reconnect_delay_set(300, 300)  # a client the broker drops stays dropped while the test looks
        self.c.username_pw_set(username, password)
        if will is not None:
            self.c.will_set(will[0], will[1], qos=1, retain=True)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda c, u, flags, rc, props: self.disconnected.set()
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(rcs)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(WAIT_S), "broker did not answer CONNECT"

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        self.result = "ok" if not rc.is_failure else str(rc)
        self.session_present = flags.session_present
        if rc.is_failure:
            client.disconnect()
        self.connected.set()

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def subscribe(self, topic_filter: str) -> list:
        self.c.subscribe(topic_filter, qos=1)
        return self.subacks.get(timeout=WAIT_S)

    def publish(self, topic_name: str, payload: bytes, *, retain: bool = False) -> None:
        self.c.publish(topic_name, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def next_message(self) -> tuple[str, bytes]:
        return self.messages.get(timeout=WAIT_S)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


# What docs/security.md asks of a production broker: the units' listener names every client by its
# username, so a unit cannot connect under another's client id (or the platform's) and take its session.
DEVICE_LISTENER = "listener {port} 127.0.0.1\nuse_username_as_clientid true\n"


@pytest.fixture
def device_port():
    from foreshock.broker import free_port

    return free_port()


@pytest.fixture
def provisioned(registry, tmp_path, device_port):
    """A broker whose password file and ACL were written from a registry with units A-1 and B-1; the
    platform connects on ``broker.port``, units on ``device_port`` (or, as before, on ``broker.port``)."""
    registry.create_unit("A-1")
    registry.create_unit("B-1")
    registry.create_unit("C-1")  # registered but never provisioned
    passwords = {d: registry.provision(d) for d in ("A-1", "B-1")}
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    cfg = write_broker_config(registry, passwd_path=passwd, acl_path=acl,
                              platform_user=PLATFORM[0], platform_password=PLATFORM[1])
    assert cfg.units == 2
    broker = MosquittoBroker(workdir=tmp_path / "broker", password_file=passwd, acl_file=acl, persistence=False,
                             extra_config=DEVICE_LISTENER.format(port=device_port))
    broker.start()
    clients: list[Client] = []

    def connect(user: str, password: str, will: tuple[str, bytes] | None = None, **kw) -> Client:
        client = Client(kw.pop("port", broker.port), user, password, will, **kw)
        clients.append(client)
        return client

    yield registry, broker, passwords, connect, (passwd, acl)
    for c in clients:
        c.close()
    broker.cleanup()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_credentials_are_hashed_and_files_private(provisioned):
    registry, _, passwords, _, (passwd, acl) = provisioned
    lines = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert set(lines) == {"foreshock", "A-1", "B-1"}
    assert passwords["A-1"] not in passwd.read_text()
    assert verify_password(passwords["A-1"], lines["A-1"]) and lines["A-1"].startswith("$7$101$")
    assert registry.check_password("A-1", passwords["A-1"]) and not registry.check_password("A-1", "guess")
    assert (passwd.stat().st_mode & 0o777, acl.stat().st_mode & 0o777) == (0o600, 0o600)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_provisioned_unit_connects_wrong_password_refused(provisioned):
    _, _, passwords, connect, _ = provisioned
    assert connect("A-1", passwords["A-1"]).ok
    assert not connect("A-1", passwords["B-1"]).ok
    assert not connect("C-1", "anything").ok  # registered, not provisioned
    assert not connect("Z-9", "anything").ok
    assert connect(*PLATFORM).ok


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_unit_may_publish_only_its_own_topics(provisioned):
    _, _, passwords, connect, _ = provisioned
    platform = connect(*PLATFORM)
    platform.subscribe("foreshock/v1/+/+")
    a = connect("A-1", passwords["A-1"])
    a.publish(topic("B-1", "telemetry"), b"forged")  # dropped by the broker
    a.publish(topic("A-1", "health"), b"forged")  # the platform's topic: dropped
    for kind in ("telemetry", "vibration", "status"):
        a.publish(topic("A-1", kind), kind.encode())
    got = [platform.next_message() for _ in range(3)]
    assert got == [(topic("A-1", k), k.encode()) for k in ("telemetry", "vibration", "status")]
    assert platform.messages.empty()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_last_will_on_own_status_reaches_the_platform(provisioned):
    _, _, passwords, connect, _ = provisioned
    platform = connect(*PLATFORM)
    platform.subscribe(topic("A-1", "status"))
    a = connect("A-1", passwords["A-1"], will=(topic("A-1", "status"), b'{"state":"offline"}'))
    assert a.ok
    a.c.loop_stop()
    a.c.socket().close()  # the connection drops without DISCONNECT: the broker publishes the will
    assert platform.next_message() == (topic("A-1", "status"), b'{"state":"offline"}')


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_unit_reads_only_its_own_health(provisioned):
    _, _, passwords, connect, _ = provisioned
    platform = connect(*PLATFORM)
    platform.subscribe(topic("B-1", "telemetry"))
    b = connect("B-1", passwords["B-1"])
    a = connect("A-1", passwords["A-1"])
    # Mosquitto 2 grants these subscriptions but delivers only what the ACL lets A read.
    a.subscribe("foreshock/#")
    a.subscribe(topic("B-1", "health"))
    b.publish(topic("B-1", "telemetry"), b"b-data")
    assert platform.next_message() == (topic("B-1", "telemetry"), b"b-data")  # B's data went through ...
    platform.publish(topic("B-1", "health"), b"b-health")
    platform.publish(topic("A-1", "health"), b"a-health")
    # ... A received nothing before its own health, which the broker delivered last.
    assert a.next_message() == (topic("A-1", "health"), b"a-health")
    assert a.messages.empty()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_revoked_unit_is_cut_off_after_reload(provisioned):
    registry, broker, passwords, connect, (passwd, acl) = provisioned
    held = connect("A-1", passwords["A-1"])
    assert held.ok and not held.disconnected.is_set()
    registry.revoke("A-1")
    registry.decommission("B-1")
    write_broker_config(registry, passwd_path=passwd, acl_path=acl,
                        platform_user=PLATFORM[0], platform_password=PLATFORM[1])
    assert "A-1" not in passwd.read_text() and "A-1" not in acl.read_text()
    broker.reload()
    assert held.disconnected.wait(WAIT_S)  # the open connection is closed by the broker
    assert not connect("A-1", passwords["A-1"]).ok
    assert not connect("B-1", passwords["B-1"]).ok
    assert connect(*PLATFORM).ok
    # re-provisioning gives a new password; the old one stays refused
    new = registry.provision("A-1")
    write_broker_config(registry, passwd_path=passwd, acl_path=acl,
                        platform_user=PLATFORM[0], platform_password=PLATFORM[1])
    broker.reload()
    # the broker rereads its files when it handles the signal, a moment after reload() returns (0.2 s
    # later) on a loaded machine: the new password is refused until then
    deadline = time.monotonic() + WAIT_S
    while not connect("A-1", new).ok and time.monotonic() < deadline:
        time.sleep(0.2)
    assert connect("A-1", new).ok
    assert not connect("A-1", passwords["A-1"]).ok


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_unit_cannot_take_over_another_clients_session(provisioned, device_port):
    """Mosquitto hands a connection the session of whoever had its client id, across users: unit A-1
    connecting as "foreshock-ingest" dropped the platform's connection and took its subscriptions (found
    here, Mosquitto 2.0.11). On the units' listener the broker names every client by its username."""
    _, broker, passwords, connect, _ = provisioned
    platform = connect(*PLATFORM, client_id="foreshock-ingest", clean_session=False)
    platform.subscribe("foreshock/v1/+/+")
    b = connect("B-1", passwords["B-1"], client_id="B-1", clean_session=False, port=device_port)
    a_as_platform = connect("A-1", passwords["A-1"], client_id="foreshock-ingest", clean_session=False,
                            port=device_port)
    a_as_b = connect("A-1", passwords["A-1"], client_id="B-1", clean_session=False, port=device_port)
    assert a_as_platform.ok and not a_as_platform.session_present  # a session of its own (named A-1) ...
    assert a_as_b.ok and a_as_platform.disconnected.wait(WAIT_S)  # ... which its second one, also A-1, replaced
    assert connect(*PLATFORM, client_id="foreshock-api").ok  # the platform's listener keeps client ids: no kick
    b.publish(topic("B-1", "telemetry"), b"b-data")
    assert platform.next_message() == (topic("B-1", "telemetry"), b"b-data")  # both still connected, served
    assert not platform.disconnected.is_set() and not b.disconnected.is_set()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_unit_cannot_read_sys_or_publish_retained_wildcards_elsewhere(provisioned, device_port):
    _, _, passwords, connect, _ = provisioned
    platform = connect(*PLATFORM)
    platform.subscribe("foreshock/#")
    a = connect("A-1", passwords["A-1"], port=device_port)
    a.subscribe("$SYS/#")  # the broker's retained $SYS/broker/version would come first
    a.subscribe("#")
    for name in ("foreshock/v1/B-1/telemetry", "foreshock/v1/A-1/telemetry/x", "foreshock/v1/A-1", "$SYS/x",
                 "foreshock/v1/+/telemetry"):
        if "+" not in name:
            a.publish(name, b"forged", retain=True)
    a.publish(topic("A-1", "telemetry"), b"mine")
    platform.publish(topic("A-1", "health"), b"a-health")
    assert platform.next_message() == (topic("A-1", "telemetry"), b"mine")  # only its own topic went through
    assert platform.next_message() == (topic("A-1", "health"), b"a-health")
    assert a.next_message() == (topic("A-1", "health"), b"a-health")  # nothing of $SYS or of others before
    assert platform.messages.empty() and a.messages.empty()
