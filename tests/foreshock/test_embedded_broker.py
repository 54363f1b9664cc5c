"""The demo's embedded broker (amqtt) answers its clients while the demo's own process is busy.

Run as a thread of the demo's process it shared the interpreter lock with the simulator, ingest and
the detectors: a 40 s ``foreshock demo --embedded-broker`` printed 7,654 amqtt tracebacks ("Timeout
waiting for PUBACK") and its ingest received 24,366 of the 35,022 messages published (Mosquitto, or
amqtt in a process of its own: all of them).
"""

from __future__ import annotations

import ctypes
import os
import select
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("amqtt")

from foreshock.broker import free_port  # noqa: E402
from foreshock.embedded_broker import EmbeddedBroker  # noqa: E402

CLIENT = textwrap.dedent(
    """
    import sys
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe")
    c.on_connect = lambda c, u, flags, rc, props: (sys.stdout.write(f"connack {rc}\\n"), sys.stdout.flush(), c.disconnect())
    c.connect("127.0.0.1", int(sys.argv[1]), keepalive=30)
    c.loop_forever()
    """
)


def _poll_holding_the_gil(fd: int, timeout_ms: int) -> int:
    """poll(2) on ``fd`` without releasing the interpreter lock (ctypes.PyDLL keeps it), as a busy
    demo process keeps it from its other threads."""
    libc = ctypes.PyDLL(None)

    class PollFd(ctypes.Structure):
        _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]

    pfd = PollFd(fd, select.POLLIN, 0)
    return libc.poll(ctypes.byref(pfd), 1, timeout_ms)


def test_the_embedded_broker_answers_while_the_demo_process_holds_the_interpreter_lock():
    broker = EmbeddedBroker(free_port()).start()
    try:
        client = subprocess.Popen([sys.executable, "-c", CLIENT, str(broker.port)], stdout=subprocess.PIPE)
        try:
            # This process keeps the lock until the client has its CONNACK, or for 30 s: a broker thread
            # of this process can answer only after that.
            ready = _poll_holding_the_gil(client.stdout.fileno(), 30_000)
            assert ready == 1, "no CONNACK while the demo's process held the interpreter lock"
            assert client.wait(20) == 0
            assert client.stdout.read().startswith(b"connack Success")
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            client.stdout.close()
    finally:
        broker.cleanup()


def test_the_embedded_broker_stops_with_the_demo():
    broker = EmbeddedBroker(free_port()).start()
    pid = broker.pid
    assert pid is not None and pid != os.getpid()
    broker.cleanup()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    broker.cleanup()  # twice is harmless


def test_a_port_taken_before_the_broker_binds_it_is_traded_for_another_without_a_traceback(capfd):
    """The child's amqtt raised 'address already in use' with a 20-line traceback on the demo's terminal for
    each port it tried; now its log is a file of its own, and the next port is taken quietly."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        broker = EmbeddedBroker(busy).start()
        try:
            assert broker.port != busy
            err = capfd.readouterr().err
            assert "Traceback" not in err and "address already in use" not in err, err
            log = broker.log_path
            assert log is not None and "address already in use" not in log.read_text()  # this attempt's log
        finally:
            broker.cleanup()
    assert not log.exists()  # removed with the broker
