"""Start a local MQTT broker: Mosquitto with a generated configuration, or an embedded one.

Used by ``foreshock demo`` (which needs a broker on a fresh machine) and by the test suite
(which starts its own on a free port, with authentication and an access-control list, rather
than relying on one already running). Production deployments run their own broker and point
``mqtt.url`` at it; ``foreshock devices provision`` writes its password file and ACL.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MosquittoBroker", "BrokerError", "free_port", "mosquitto_available", "wait_for_port"]

log = logging.getLogger(__name__)


# Mosquitto's own log lines (2.0.x, and 1.6), written at log_type information (see _write_config).
RUNNING_LINE = re.compile(r"mosquitto version \S+ running")  # after every listener is open and the signal
# handlers are set: from then on a SIGHUP reloads (before it, SIGHUP's default action ends the process)
RELOAD_LINE = "Reloading config."  # written when the main loop takes up a SIGHUP, before it rereads the files
OPENING_LINE = re.compile(r"Opening ipv[46] listen socket on port (\d+)\.")
ADDRESS_IN_USE = "Address already in use"
TIMESTAMP = re.compile(r"^\d+: ")  # in front of each line Mosquitto logs
PORT_ATTEMPTS = 3  # ports tried when the one chosen free was taken before Mosquitto bound it
LOG_TAIL_LINES = 12


class BrokerError(RuntimeError):
    pass


class _AddressInUse(BrokerError):
    def __init__(self, port: int, tail: str) -> None:
        super().__init__(f"port {port} is in use")
        self.port, self.tail = port, tail


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` if it is free, else a free port chosen by the OS."""
    if preferred:
        with socket.socket() as s:
            try:
                s.bind((host, preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout_s: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``host:port`` accepts connections; with ``proc``, until ``proc`` itself listens there.

    A port chosen free is bound by the server a moment later, and another process may take it meanwhile:
    the server then exits, but a connection to the other process's socket succeeds. So with ``proc``,
    on Linux, the listening socket must be one of ``proc``'s own (``/proc/net/tcp*`` and
    ``/proc/<pid>/fd``); where that cannot be read, a connection is taken as the answer.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"process exited with code {proc.returncode} before listening on {host}:{port}")
        owned = _listens(proc.pid, port) if proc is not None else None
        if owned:
            return
        if owned is None:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                pass
        time.sleep(0.05)
    if proc is not None and _listening_inodes(port):
        raise BrokerError(f"another process listens on {host}:{port}, not pid {proc.pid} "
                          f"(after {timeout_s:.0f} s)")
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def _listening_inodes(port: int) -> set[str] | None:
    """Socket inodes in state LISTEN on ``port`` (any address), or None where /proc cannot be read."""
    inodes: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return inodes


def _listens(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds a socket listening on ``port``; None when that cannot be told."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    if not inodes:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(nothing)"


def _mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


def mosquitto_available() -> bool:
    return _mosquitto_binary() is not None


@dataclass
class MosquittoBroker:
    """A Mosquitto process with its own config, data directory and port.

    ``users`` maps usernames to passwords (written with ``mosquitto_passwd``); ``acl`` is the text
    of an ACL file. With neither, anonymous access is allowed (the demo's default).
    """

    port: int = 0
    host: str = "127.0.0.1"
    workdir: Path | None = None
    users: dict[str, str] = field(default_factory=dict)
    acl: str | None = None
    password_file: Path | None = None  # an existing file (e.g. written by devices provisioning)
    acl_file: Path | None = None
    persistence: bool = True
    tls: dict[str, Path] | None = None  # {"cafile", "certfile", "keyfile", "port"?}
    extra_config: str = ""
    _proc: subprocess.Popen | None = None
    _own_dir: bool = False
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        assert self.workdir is not None
        lines = [f"listener {self.port} {self.host}", "per_listener_settings false"]
        if os.geteuid() == 0:
            # As root, mosquitto drops to user 'mosquitto', which cannot read our private temp dir.
            lines.append("user root")
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        pwfile = self.password_file
        if self.users:
            pwfile = pwfile or self.workdir / "passwd"
            self._write_passwords(pwfile)
        if pwfile:
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines.append("allow_anonymous true")
        aclfile = self.acl_file
        if self.acl is not None:
            aclfile = self.workdir / "acl"
            aclfile.write_text(self.acl)
        if aclfile:
            lines.append(f"acl_file {aclfile}")
        if self.tls:
            lines += [
                f"listener {self.tls['port']} {self.host}",
                f"cafile {self.tls['cafile']}",
                f"certfile {self.tls['certfile']}",
                f"keyfile {self.tls['keyfile']}",
            ]
        lines += [
            "max_queued_messages 1000000",
            "max_inflight_messages 0",
            "max_packet_size 16777216",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type information",  # start-up, listeners and reloads (start() and reload() wait for them)
            self.extra_config,
        ]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def _write_passwords(self, path: Path) -> None:
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        path.write_text("")
        os.chmod(path, 0o600)
        for user, password in self.users.items():
            subprocess.run([tool, "-b", str(path), user, password], check=True, capture_output=True)

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "mosquitto.log"

    def start(self, timeout_s: float = 30.0) -> MosquittoBroker:
        """Start Mosquitto; return once it runs (every listener open, SIGHUP handled).

        With ``port`` 0 a free port is chosen. Mosquitto binds it a moment later and another process
        may take it meanwhile: Mosquitto then exits ("Address already in use") and the start is tried
        again on another free port (:data:`PORT_ATTEMPTS` ports in all). A port given (or a restart's)
        is kept: if it is in use, the error says so.
        """
        binary = _mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="foreshock-mosquitto-"))
            self._own_dir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        choose = not self.port
        tried: list[int] = []
        last_tail = ""
        for _ in range(PORT_ATTEMPTS if choose else 1):
            if choose:
                self.port = free_port()
            tried.append(self.port)
            try:
                proc = self._start_once(binary, timeout_s)
            except _AddressInUse as exc:
                if exc.port != self.port or not choose:
                    raise BrokerError(f"mosquitto could not listen on {self.host}:{exc.port}: it is in use; "
                                      f"its last log lines ({self.log_path}):\n{exc.tail}") from None
                log.warning("port %d was taken before mosquitto bound it; trying another", self.port)
                last_tail = exc.tail
                continue
            log.info("mosquitto listening on %s (pid %d)", self.url, proc.pid)
            return self
        raise BrokerError(f"mosquitto could not listen on {self.host}: each free port chosen "
                          f"({', '.join(map(str, tried))}) was taken before it bound it; its last log lines "
                          f"({self.log_path}):\n{last_tail}")

    def _start_once(self, binary: str, timeout_s: float) -> subprocess.Popen:
        conf = self._write_config()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        offset = self._log.tell()
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self._log, stderr=subprocess.STDOUT)
        self._proc = proc
        deadline = time.monotonic() + timeout_s
        while True:
            exited = proc.poll() is not None
            text = self._log_since(offset)  # read after poll(): all it wrote before it exited
            if not exited and RUNNING_LINE.search(text):
                return proc
            if exited or time.monotonic() > deadline:
                code = proc.returncode
                self.stop()
                tail = _tail(text)
                if exited and ADDRESS_IN_USE in text:
                    opened = OPENING_LINE.findall(text.split(ADDRESS_IN_USE)[0])
                    raise _AddressInUse(int(opened[-1]) if opened else self.port, tail)
                said = f"exited with code {code}" if exited else f"was not running after {timeout_s:.0f} s"
                raise BrokerError(f"mosquitto did not start on {self.host}:{self.port}: it {said}; its last "
                                  f"log lines ({self.log_path}):\n{tail}")
            time.sleep(0.05)

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")

    def reload(self, timeout_s: float = 30.0) -> None:
        """Re-read password file and ACL (SIGHUP), e.g. after provisioning or revoking a unit.

        Returns once Mosquitto has reread them: its log shows that it took up the signal, and a
        CONNECT sent after that was answered (Mosquitto's one thread handles no client in between).
        Raises :class:`BrokerError` when it does not within ``timeout_s``, when it exits, or when it
        logged errors while rereading (a password file or ACL it cannot read or parse). Does nothing
        when the broker is not running: a start reads the files anyway.
        """
        with self._reload_lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                return
            offset = self.log_path.stat().st_size
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + timeout_s
            while RELOAD_LINE not in self._log_since(offset):
                if proc.poll() is not None or time.monotonic() > deadline:
                    said = f"exited with code {proc.returncode}" if proc.poll() is not None else \
                        f"did not take up SIGHUP within {timeout_s:.0f} s"
                    raise BrokerError(f"mosquitto (pid {proc.pid}) {said}; its last log lines "
                                      f"({self.log_path}):\n{_tail(self._log_since(0))}")
                time.sleep(0.02)
            self._answered_connect(deadline)
            text = self._log_since(offset)
            after = text.split(RELOAD_LINE, 1)[1].splitlines()
            errors = [TIMESTAMP.sub("", line) for line in after if "Error" in line]
            if errors:
                raise BrokerError(f"mosquitto (pid {proc.pid}) reloaded with errors: {' '.join(errors)}")

    def _answered_connect(self, deadline: float) -> None:
        """Send an MQTT 3.1.1 CONNECT without credentials and wait for the CONNACK (accepted or not)."""
        client_id = f"foreshock-reload-{os.getpid()}-{time.monotonic_ns()}".encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
        connack = b""
        try:
            wait_s = max(deadline - time.monotonic(), 1.0)
            with socket.create_connection((self.host, self.port), timeout=wait_s) as s:
                s.sendall(bytes([0x10, len(body)]) + body)
                while len(connack) < 4:
                    chunk = s.recv(4 - len(connack))
                    if not chunk:
                        break
                    connack += chunk
                if connack[:1] == b"\x20" and len(connack) == 4 and connack[3] == 0:
                    s.sendall(b"\xe0\x00")  # accepted (anonymous access): leave cleanly
        except OSError as exc:
            raise BrokerError(f"mosquitto on {self.url} did not answer a CONNECT after reloading: "
                              f"{exc}") from None
        if connack[:1] != b"\x20":
            raise BrokerError(f"mosquitto on {self.url} did not answer a CONNECT after reloading "
                              f"(got {connack!r})")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if getattr(self, "_log", None):
            self._log.close()

    def restart(self, down_s: float = 0.0) -> None:
        """Stop and start again on the same port with the same persistence (fault injection)."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc) -> None:
        self.cleanup()
