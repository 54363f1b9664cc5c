"""``MosquittoBroker.start`` and ``wait_for_port`` when the port chosen free is taken before the server binds
it (another process on the machine took it meanwhile). Mosquitto then exits with "Address already in use";
the old start waited for *something* to accept a connection on the port, so a socket of another process
listening there passed for the broker, and a port merely bound by another process was an error with no retry.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

import foreshock.broker as broker_module
from foreshock.broker import BrokerError, MosquittoBroker, mosquitto_available, wait_for_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not mosquitto_available(), reason="mosquitto is not installed"),
]

WAIT_S = 60.0  # bound on waiting for the broker (a loaded CI machine); never a speed assertion


def _held(listen: bool) -> socket.socket:
    """A socket of this process on a free port: listening (it accepts connections), or only bound."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    if listen:
        s.listen()
    return s


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for s in sockets:
        s.close()


def _connects(port: int) -> bool:
    """A real MQTT CONNECT (the test brokers allow anonymous access) is accepted on ``port``."""
    answered = threading.Event()
    result: list[bool] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")

    def on_connect(c, userdata, flags, rc, props) -> None:
        result.append(not rc.is_failure)
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return answered.wait(WAIT_S) and result == [True]
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("listen", [True, False], ids=["taken-and-listening", "taken-bound-only"])
def test_a_port_taken_before_mosquitto_binds_it_is_traded_for_another(monkeypatch, held, tmp_path, listen):
    """Seen failing on the old code: listening -> start() returned with the broker dead and the port
    another's; bound only -> 'process exited with code 1', no other port tried."""
    held.append(_held(listen))
    taken = held[0].getsockname()[1]
    real = broker_module.free_port
    picks = iter([taken])
    monkeypatch.setattr(broker_module, "free_port", lambda *a, **kw: next(picks, None) or real(*a, **kw))
    broker = MosquittoBroker(workdir=tmp_path / "mq", persistence=False)
    try:
        broker.start(timeout_s=WAIT_S)
        assert broker.port != taken
        assert broker._proc is not None and broker._proc.poll() is None
        assert _connects(broker.port)
        assert "Address already in use" in broker.log_path.read_text()  # the first pick did collide
    finally:
        broker.cleanup()


def test_chosen_ports_taken_every_time_are_named_with_mosquittos_words(monkeypatch, held, tmp_path):
    held.extend(_held(listen=True) for _ in range(broker_module.PORT_ATTEMPTS))
    taken = [s.getsockname()[1] for s in held]
    picks = iter(taken)
    monkeypatch.setattr(broker_module, "free_port", lambda *a, **kw: next(picks))
    broker = MosquittoBroker(workdir=tmp_path / "mq", persistence=False)
    with pytest.raises(BrokerError) as info:
        broker.start(timeout_s=WAIT_S)
    message = str(info.value)
    assert f"each free port chosen ({', '.join(map(str, taken))}) was taken" in message
    assert "Error: Address already in use" in message  # Mosquitto's own log lines
    assert broker._proc is None


@pytest.mark.parametrize("which", ["main", "extra"])
def test_a_given_port_in_use_is_kept_and_named(held, tmp_path, which):
    """A port the caller gave (or the second listener's) is not swapped for another: the error names it."""
    held.append(_held(listen=True))
    taken = held[0].getsockname()[1]
    if which == "main":
        broker = MosquittoBroker(workdir=tmp_path / "mq", persistence=False, port=taken)
    else:
        broker = MosquittoBroker(workdir=tmp_path / "mq", persistence=False,
                                 extra_config=f"listener {taken} 127.0.0.1\n")
    with pytest.raises(BrokerError) as info:
        broker.start(timeout_s=WAIT_S)
    assert f"could not listen on 127.0.0.1:{taken}: it is in use" in str(info.value)
    assert "Error: Address already in use" in str(info.value)
    assert broker._proc is None


def test_wait_for_port_does_not_take_another_process_listener_for_the_servers(held):
    """What the test servers (influxd, victoria-metrics) wait with: a connection to a socket that is not
    the server's is no sign that the server listens. Seen failing on the old code (it returned at once)."""
    held.append(_held(listen=True))
    port = held[0].getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        expected = f"another process listens on 127.0.0.1:{port}, not pid {proc.pid}"
        with pytest.raises(BrokerError, match=expected):
            wait_for_port("127.0.0.1", port, timeout_s=1.0, proc=proc)
    finally:
        proc.kill()
        proc.wait()


def test_wait_for_port_returns_once_the_process_itself_listens():
    code = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
            "print(s.getsockname()[1], flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        wait_for_port("127.0.0.1", port, timeout_s=WAIT_S, proc=proc)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
