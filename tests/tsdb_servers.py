"""Real telemetry stores for the test suite: influxd (InfluxDB 1.x) and victoria-metrics.

Each is started on free ports with its data in a temporary directory and a generated
configuration; the fixtures are session-scoped. Import them in a conftest::

    from tests.tsdb_servers import influxd, victoria_metrics  # noqa: F401
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from foreshock.broker import BrokerError, wait_for_port
from tests.servers import START_TIMEOUT_S, distinct_free_ports

__all__ = ["InfluxdServer", "VictoriaMetricsServer", "influxd", "self_signed_certificate", "victoria_metrics"]

START_ATTEMPTS = 3  # sets of free ports tried when one was taken before the server bound it
LOG_TAIL_LINES = 15


class PortTaken(RuntimeError):
    """The server exited because a port it was to bind is in use (its log says so)."""


@dataclass
class _Process:
    workdir: Path
    port: int = 0
    host: str = "127.0.0.1"
    _proc: subprocess.Popen | None = None
    tls: tuple[Path, Path] | None = None  # (cert_file, key_file): HTTPS only, see self_signed_certificate()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def _spawn(self, argv: list[str], name: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start ``argv`` and wait until it listens on ``port`` itself (not another process that took the
        port meanwhile); the error on failure shows the server's own last log lines."""
        log_path = self.workdir / f"{name}.log"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        offset = self._log.tell()
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.host, self.port, timeout_s, self._proc)
        except BrokerError as exc:
            self.stop()
            with open(log_path, "rb") as fh:
                fh.seek(offset)
                said = fh.read().decode("utf-8", errors="replace")
            tail = "\n".join(said.strip().splitlines()[-LOG_TAIL_LINES:]) or "(nothing)"
            error = PortTaken if "address already in use" in said.lower() else RuntimeError
            raise error(f"{name} did not start: {exc}; its last log lines ({log_path}):\n{tail}") from None

    def _start_on_free_ports(self, start, ports: tuple[str, ...]) -> None:
        """``start()`` with the ``ports`` attributes left 0 chosen free. A free port is bound by the
        server a moment later: another process may take it meanwhile (the suite and other jobs share the
        machine) and the server exits "address already in use"; it is then tried again on other free
        ports. Ports the caller gave (a restart on the same port) are kept."""
        chosen = [p for p in ports if not getattr(self, p)]
        for attempt in range(START_ATTEMPTS):
            for p, port in zip(chosen, distinct_free_ports(len(chosen)), strict=True):
                setattr(self, p, port)
            try:
                start()
                return
            except PortTaken:
                if not chosen or attempt == START_ATTEMPTS - 1:
                    raise

    def stop(self, timeout_s: float = 15.0) -> None:
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

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


@dataclass
class InfluxdServer(_Process):
    """InfluxDB 1.x (Debian's ``influxd``) with HTTP and RPC on free ports, no reporting, fsync'ed WAL.

    ``auth=True`` turns authentication on; create the first (admin) user with :meth:`create_admin`.
    ``tls=(cert_file, key_file)`` serves HTTPS only.
    """

    rpc_port: int = 0
    auth: bool = False

    def create_admin(self, user: str, password: str) -> None:
        """The first user of an auth-enabled influxd (allowed without credentials while there is none)."""
        import httpx

        q = f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
        resp = httpx.post(f"{self.url}/query", params={"q": q}, timeout=10)
        resp.raise_for_status()

    def start(self) -> InfluxdServer:
        self._start_on_free_ports(self._start, ("port", "rpc_port"))
        return self

    def _start(self) -> None:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        conf = self.workdir / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{self.workdir}/meta"
  logging-enabled = false
[data]
  dir = "{self.workdir}/data"
  wal-dir = "{self.workdir}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "{self.host}:{self.port}"
  auth-enabled = {"true" if self.auth else "false"}
  https-enabled = {"true" if self.tls else "false"}
  https-certificate = "{self.tls[0] if self.tls else ""}"
  https-private-key = "{self.tls[1] if self.tls else ""}"
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
"""
        )
        self._spawn([binary, "-config", str(conf)], "influxd")


@dataclass
class VictoriaMetricsServer(_Process):
    """victoria-metrics single node; accepts InfluxDB line protocol on ``/write`` and ``/api/v2/write``."""

    def start(self) -> VictoriaMetricsServer:
        self._start_on_free_ports(self._start, ("port",))
        return self

    def _start(self) -> None:
        binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        tls = ["-tls", f"-tlsCertFile={self.tls[0]}", f"-tlsKeyFile={self.tls[1]}"] if self.tls else []
        self._spawn(
            [
                binary,
                f"-httpListenAddr={self.host}:{self.port}",
                f"-storageDataPath={self.workdir}/data",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-loggerLevel=ERROR",
                *tls,
            ],
            "victoria-metrics",
        )


def self_signed_certificate(workdir: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for ``host`` signed by itself (``openssl``): ``(cert_file, key_file)``. The
    certificate is its own CA: give it as ``SSL_CERT_FILE`` to trust it."""
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
         "-out", str(cert), "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}"],
        check=True, capture_output=True,
    )
    return cert, key


def _binary_or_fail(name: str) -> None:
    if not (shutil.which(name) or Path(f"/usr/bin/{name}").exists()):
        pytest.fail(f"{name} is not installed (Debian: apt-get install {name.replace('influxd', 'influxdb')})")


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """A running influxd 1.x; ``.url`` is its HTTP base URL."""
    _binary_or_fail("influxd")
    server = InfluxdServer(workdir=tmp_path_factory.mktemp("influxd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory):
    """A running victoria-metrics; ``.url`` is its HTTP base URL."""
    _binary_or_fail("victoria-metrics")
    server = VictoriaMetricsServer(workdir=tmp_path_factory.mktemp("vm")).start()
    yield server
    server.stop()


def temp_influxd() -> InfluxdServer:
    """An influxd outside pytest (benchmarks); call ``.stop()`` when done."""
    return InfluxdServer(workdir=Path(tempfile.mkdtemp(prefix="foreshock-influxd-"))).start()
