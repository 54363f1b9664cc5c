"""Start a local MQTT broker: Mosquitto with a generated configuration, or an embedded one.

Used by ``foreshock demo`` (which needs a broker on a fresh machine) and by the test suite
(which starts its own on a free port, with authentication and an access-control list, rather
than relying on one already running). Production deployments run their own broker and point
``mqtt.url`` at it; ``foreshock devices provision`` writes its password file and ACL.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MosquittoBroker", "BrokerError", "free_port", "mosquitto_available", "wait_for_port"]

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    pass


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
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"process exited with code {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


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

    def start(self, timeout_s: float = 10.0) -> MosquittoBroker:
        binary = _mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="foreshock-mosquitto-"))
            self._own_dir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        conf = self._write_config()
        self._log = open(self.workdir / "mosquitto.log", "ab")
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.host, self.port, timeout_s, self._proc)
        except BrokerError as exc:
            raise BrokerError(f"mosquitto did not start: {exc}; see {self.workdir / 'mosquitto.log'}") from None
        log.info("mosquitto listening on %s (pid %d)", self.url, self._proc.pid)
        return self

    def reload(self) -> None:
        """Re-read password file and ACL (SIGHUP), e.g. after provisioning or revoking a unit."""
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)

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
