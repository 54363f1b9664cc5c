"""`foreshock run` under systemd (``Type=notify``): READY=1 once it really serves, STATUS= while the start
waits for a database or broker that is not there yet, STOPPING=1 on SIGTERM or SIGHUP, and a start refused
for good exits 78 (the unit's RestartPreventExitStatus=).

The unit was ``Type=simple`` with ``StartLimitBurst=5`` in 300 s: a database down at boot made the service
exit 1 five times, 10 s apart, and systemd then left it failed for good, about 2 minutes after boot; and
systemd took the service for started the moment the process existed. Each test here starts the real service
in a process of its own, with ``NOTIFY_SOCKET`` naming a datagram socket the test bound, as systemd does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from foreshock.service import EXIT_CONFIG, SystemdNotifier
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER, distinct_free_ports

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # bound on waiting for a message or an exit; never a speed assertion


class NotifySocket:
    """The socket systemd listens on for a notify service: a path, or ``@name`` (abstract)."""

    def __init__(self, tmp_path: Path, abstract: bool) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"foreshock-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.env_value = "@" + name
        else:
            path = tmp_path / "notify.sock"
            self.sock.bind(str(path))
            self.env_value = str(path)
        self.received: list[dict[str, str]] = []

    def next(self, timeout_s: float = WAIT_S, process: subprocess.Popen | None = None) -> dict[str, str] | None:
        """The next datagram as a dict of its fields, or None when none came within ``timeout_s`` (or the
        process ended)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.sock.settimeout(min(0.5, max(0.01, end - time.monotonic())))
            try:
                data = self.sock.recv(65536).decode()
            except TimeoutError:
                if process is not None and process.poll() is not None:
                    return None
                continue
            fields = dict(line.split("=", 1) for line in data.splitlines())
            self.received.append(fields)
            return fields
        return None

    def until(self, key: str, process: subprocess.Popen, timeout_s: float = WAIT_S) -> dict[str, str]:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            fields = self.next(end - time.monotonic(), process)
            if fields is None:
                break
            if key in fields:
                return fields
        pytest.fail(f"no {key} from the service within {timeout_s:.0f} s; received {self.received}; "
                    f"exit code {process.poll()}; output:\n{_output(process)}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path):
    s = NotifySocket(tmp_path, abstract=request.param == "abstract")
    yield s
    s.close()


def _output(process: subprocess.Popen) -> str:
    log = getattr(process, "log_path", None)
    return log.read_text() if log is not None and log.exists() else ""


def _service(tmp_path: Path, env: dict[str, str], *args: str, notify: NotifySocket | None) -> subprocess.Popen:
    """``foreshock run`` as the unit's ExecStart runs it: its own process, settings in the environment."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("FORESHOCK_") or k == "FORESHOCK_TEST_PG"}
    full.pop("NOTIFY_SOCKET", None)
    full.update({"PYTHONPATH": str(ROOT), "FORESHOCK_DATA_DIR": str(tmp_path / "data"), **env})
    if notify is not None:
        full["NOTIFY_SOCKET"] = notify.env_value
    log_path = tmp_path / f"service-{uuid.uuid4().hex[:6]}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "foreshock", "run", *args], env=full, cwd=str(ROOT),
                                   stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log_path  # type: ignore[attr-defined]
    return process


def _exit_code(process: subprocess.Popen) -> int:
    """The exit code of a service expected to end on its own."""
    return _end(process, None)


def _end(process: subprocess.Popen, sig: int | None = signal.SIGTERM) -> int:
    """The service's exit code, after ``sig`` if it still runs (None: none sent, it ends on its own)."""
    if sig is not None and process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        how = f"end on its own within {WAIT_S:.0f} s" if sig is None else f"stop within {WAIT_S:.0f} s of signal {sig}"
        pytest.fail(f"the service did not {how}:\n{_output(process)}")


def _broker_env(broker) -> dict[str, str]:
    return {"FORESHOCK_MQTT__URL": broker.url, "FORESHOCK_MQTT__USERNAME": PLATFORM_USER,
            "FORESHOCK_MQTT__PASSWORD": PLATFORM_PASSWORD,
            "FORESHOCK_MQTT__CLIENT_ID": f"notify-{uuid.uuid4().hex[:8]}"}


# -- the notifier itself -----------------------------------------------------------------------------


@pytest.mark.parametrize("abstract", [False, True])
def test_the_notifier_sends_each_message_as_one_datagram(tmp_path, abstract):
    listener = NotifySocket(tmp_path, abstract)
    try:
        notifier = SystemdNotifier(listener.env_value)
        assert notifier.enabled
        notifier.status("waiting for the database at db:5432: Connection refused (attempt 3)", extend_start_s=41)
        assert listener.next(5) == {"STATUS": "waiting for the database at db:5432: Connection refused (attempt 3)",
                                    "EXTEND_TIMEOUT_USEC": "41000000"}
        notifier.ready("serving\nall")  # a newline would end the field: it becomes a space
        assert listener.next(5) == {"READY": "1", "STATUS": "serving all"}
        notifier.stopping()
        notifier.stopping()  # the signal and the stop that follows both say it: sent once
        assert listener.next(5) == {"STOPPING": "1", "STATUS": "stopping"}
        assert listener.next(0.3) is None
        notifier.close()
    finally:
        listener.close()


def test_a_stop_signal_that_comes_while_a_message_is_sent_does_not_hang_the_service(tmp_path):
    """SIGTERM right after READY=1 (``systemctl start`` then ``stop``): the handler, run in the main thread
    while it was inside send(), waited for the lock that thread held, and the service never stopped."""
    import threading

    listener = NotifySocket(tmp_path, abstract=False)
    notifier = SystemdNotifier(listener.env_value)
    real = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    class SignalInside:  # a signal handler runs between two bytecodes of send(): here, just before sendto
        def sendto(self, data, address):
            notifier._sock = real
            notifier.stopping()  # what the start's SIGTERM handler does
            return real.sendto(data, address)

    notifier._sock = SignalInside()  # type: ignore[assignment]
    sender = threading.Thread(target=notifier.ready, args=("serving",), daemon=True)
    sender.start()
    sender.join(10)
    try:
        assert not sender.is_alive(), "send() deadlocked on its own lock"
        assert listener.next(5) == {"STOPPING": "1", "STATUS": "stopping"}
        assert listener.next(5) == {"READY": "1", "STATUS": "serving"}
    finally:
        if not sender.is_alive():  # else close() would wait for the lock too
            notifier.close()
        listener.close()


def test_without_notify_socket_nothing_is_sent(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SystemdNotifier.from_environment()
    assert not notifier.enabled and notifier.send("READY=1") is False
    assert not SystemdNotifier("vsock:2:1234").enabled  # not a kind of address this notifier speaks
    assert "NOTIFY_SOCKET=vsock:2:1234 is neither a path nor an abstract socket" in caplog.text
    gone = SystemdNotifier(str(tmp_path / "nobody-listens.sock"))  # systemd went away: logged once, never raised
    assert gone.send("READY=1") is False and gone.send("STATUS=x") is False
    assert caplog.text.count("cannot notify systemd") == 1


# -- the real service --------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_ready_only_once_the_api_answers_and_stopping_on_a_signal(mosquitto, notify_socket, tmp_path, sig):
    api_port, = distinct_free_ports(1)
    service = _service(tmp_path, {**_broker_env(mosquitto), "FORESHOCK_API__PORT": str(api_port)},
                       notify=notify_socket)
    try:
        ready = notify_socket.until("READY", service)
        assert ready["READY"] == "1"
        assert ready["STATUS"] == (f"serving: database sqlite:///{tmp_path / 'data' / 'foreshock.db'}, broker "
                                   f"{mosquitto.url}, API on http://127.0.0.1:{api_port}")
        # at READY the service serves: the API answers at once, its probes pass (database, broker, store)
        answer = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=10)
        assert answer.status_code == 200, answer.text
        assert not any("STOPPING" in m for m in notify_socket.received)
        service.send_signal(sig)
        stopping = notify_socket.until("STOPPING", service)
        assert stopping["STOPPING"] == "1"
        assert _exit_code(service) == 0, _output(service)
    finally:
        _end(service, signal.SIGKILL)
    assert [m for m in notify_socket.received if "READY" in m] == [ready]  # READY once, before STOPPING
    assert (tmp_path / "data" / "foreshock.lock").read_text() == ""  # a clean stop


@pytest.mark.integration
def test_ready_waits_for_the_broker_and_says_so(tmp_path):
    """A broker down at start: the service runs on and reconnects (as before), but tells systemd it is
    not ready until it is connected."""
    from foreshock.broker import MosquittoBroker

    notify = NotifySocket(tmp_path, abstract=False)
    port, = distinct_free_ports(1)
    broker = MosquittoBroker(port=port, workdir=tmp_path / "mq", users={PLATFORM_USER: PLATFORM_PASSWORD})
    service = _service(tmp_path, {**_broker_env(broker), "FORESHOCK_MQTT__RECONNECT_MAX_S": "1"}, "--no-api",
                       notify=notify)
    try:
        waiting = notify.until("STATUS", service)
        assert waiting["STATUS"].startswith(f"waiting for the MQTT broker at 127.0.0.1:{port}: not connected after ")
        assert "EXTEND_TIMEOUT_USEC" in waiting
        assert "waiting for the MQTT broker" in notify.next(15, service)["STATUS"]  # said again while it waits
        assert not any("READY" in m for m in notify.received)
        broker.start()
        ready = notify.until("READY", service)
        assert ready["STATUS"].startswith("serving: database sqlite:") and f"broker mqtt://127.0.0.1:{port}" in \
            ready["STATUS"]
        assert _end(service) == 0, _output(service)
    finally:
        _end(service, signal.SIGKILL)
        broker.cleanup()
        notify.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_database_that_refuses_connections_is_waited_for_and_a_stop_ends_the_wait(tmp_path, sig):
    """Nothing listens at the database's port: STATUS says so at each attempt; no READY; a stop signal
    ends the wait at once with STOPPING=1 and exit 0, the data folder's lock left clean."""
    pytest.importorskip("psycopg")
    notify = NotifySocket(tmp_path, abstract=True)
    port, = distinct_free_ports(1)
    service = _service(tmp_path, {"FORESHOCK_DATABASE__URL": f"postgresql+psycopg://fs:s3cret@127.0.0.1:{port}/fs",
                                  "FORESHOCK_MQTT__URL": "mqtt://127.0.0.1:1"}, "--no-api", notify=notify)
    try:
        first = notify.until("STATUS", service)
        second = notify.until("STATUS", service)
        assert first["STATUS"] == f"waiting for the database at 127.0.0.1:{port}: Connection refused (attempt 1)"
        assert second["STATUS"] == f"waiting for the database at 127.0.0.1:{port}: Connection refused (attempt 2)"
        assert int(second["EXTEND_TIMEOUT_USEC"]) > 10_000_000  # a finite TimeoutStartSec= is extended meanwhile
        service.send_signal(sig)
        assert notify.until("STOPPING", service)["STOPPING"] == "1"
        assert _exit_code(service) == 0, _output(service)
    finally:
        _end(service, signal.SIGKILL)
        notify.close()
    out = _output(service)
    assert not any("READY" in m for m in notify.received)
    assert "waiting for the database at 127.0.0.1" in out and "stopped while waiting for the database" in out
    assert "s3cret" not in out and "Traceback" not in out
    assert (tmp_path / "data" / "foreshock.lock").read_text() == ""


def test_without_notify_socket_a_database_that_refuses_still_stops_the_start(tmp_path):
    """By hand (no NOTIFY_SOCKET) nothing changes: exit 1 at once, the database named."""
    pytest.importorskip("psycopg")
    port, = distinct_free_ports(1)
    service = _service(tmp_path, {"FORESHOCK_DATABASE__URL": f"postgresql+psycopg://fs:s3cret@127.0.0.1:{port}/fs",
                                  "FORESHOCK_MQTT__URL": "mqtt://127.0.0.1:1"}, "--no-api", notify=None)
    assert _exit_code(service) == 1
    out = _output(service)
    assert f"foreshock: error: cannot use the database postgresql+psycopg://fs:***@127.0.0.1:{port}/fs: " in out
    assert "Connection refused" in out and "waiting for the database" not in out and "s3cret" not in out


@pytest.fixture
def postgres_behind_a_proxy():
    """A fresh PostgreSQL database reached through a TCP proxy the test cuts and restores."""
    from tests.reliability.proxy import postgres_through_a_proxy

    with postgres_through_a_proxy() as (parsed, proxy):
        yield parsed.set(port=proxy.port).render_as_string(hide_password=False), proxy


@pytest.mark.integration
def test_a_database_down_at_start_ends_with_a_running_service_when_it_comes_back(postgres_behind_a_proxy, mosquitto,
                                                                                 tmp_path):
    url, proxy = postgres_behind_a_proxy
    proxy.cut()  # the server looks down: every connection is closed at once
    notify = NotifySocket(tmp_path, abstract=False)
    service = _service(tmp_path, {**_broker_env(mosquitto), "FORESHOCK_DATABASE__URL": url}, "--no-api",
                       notify=notify)
    try:
        for attempt in (1, 2, 3):
            status = notify.until("STATUS", service)["STATUS"]
            assert status.startswith(f"waiting for the database at 127.0.0.1:{proxy.port}: ")
            assert status.endswith(f"(attempt {attempt})")
        assert service.poll() is None and not any("READY" in m for m in notify.received)
        proxy.restore()
        ready = notify.until("READY", service)
        assert ready["STATUS"].startswith("serving: database postgresql+psycopg://")
        assert _end(service) == 0, _output(service)
    finally:
        _end(service, signal.SIGKILL)
        notify.close()
    assert "the database at 127.0.0.1:%d answered at attempt" % proxy.port in _output(service)


@pytest.mark.integration
def test_a_database_that_does_not_exist_is_refused_for_good_with_exit_78(postgres_url, tmp_path):
    """Waiting will not cure a wrong database name (nor a wrong password or role): under systemd the start
    ends at once with exit 78, which the unit does not restart; by hand it stays exit 1."""
    from sqlalchemy.engine import make_url

    missing = make_url(postgres_url).set(database=f"no_such_db_{uuid.uuid4().hex[:8]}")
    url = missing.set(password="s3cret-pw").render_as_string(hide_password=False)
    env = {"FORESHOCK_DATABASE__URL": url, "FORESHOCK_MQTT__URL": "mqtt://127.0.0.1:1"}
    notify = NotifySocket(tmp_path, abstract=True)
    try:
        supervised = _service(tmp_path, env, "--no-api", notify=notify)
        assert _exit_code(supervised) == EXIT_CONFIG == 78
        by_hand = _service(tmp_path, env, "--no-api", notify=None)
        assert _exit_code(by_hand) == 1
        assert not any("READY" in m for m in notify.received)
    finally:
        notify.close()
    out = _output(supervised)
    assert f'database "{missing.database}" does not exist' in out
    assert "waiting will not cure this, so the service is not restarted" in out
    assert "waiting for the database" not in out and "s3cret-pw" not in out + _output(by_hand)


@pytest.mark.parametrize(("message", "for_good"), [
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "fs"',
     True),
    ('connection to server at "127.0.0.1", port 5432 failed: fe_sendauth: no password supplied', True),
    ('connection to server at "10.0.0.5", port 5432 failed: FATAL:  no pg_hba.conf entry for host "10.0.0.9", '
     'user "fs", database "fs", no encryption', True),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "fs" does not exist', True),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "fs" does not exist', True),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  permission denied for database "fs"', True),
    ('connection to server at "127.0.0.1", port 5432 failed: server does not support SSL, but SSL was required',
     True),
    ('connection to server at "127.0.0.1", port 5432 failed: Connection refused\n\tIs the server running on that '
     'host and accepting TCP/IP connections?', False),
    ("connection timeout expired", False),
    ("failed to resolve host 'db.example.com': [Errno -3] Temporary failure in name resolution", False),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up', False),
    ('connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients already', False),
    ('connection to server at "127.0.0.1", port 5432 failed: server closed the connection unexpectedly', False),
])
def test_what_waiting_will_not_cure_is_told_from_libpqs_message(message, for_good):
    """psycopg gives no SQLSTATE for a failed connect: the start tells an outage (waited for) from a wrong
    password, role or database (exit 78) by libpq's message. The test server trusts every local connection,
    so a wrong password could not be tried for real: these are libpq's texts."""
    from sqlalchemy.exc import OperationalError

    from foreshock.service import refused_for_good

    exc = OperationalError("SELECT 1", {}, Exception(f"connection failed: {message}"))
    assert refused_for_good(exc) is for_good
