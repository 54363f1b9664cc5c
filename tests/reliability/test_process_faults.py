"""The ``foreshock run`` process is killed (SIGKILL) mid-stream and restarted, then stopped with SIGTERM:
nothing published at QoS 1 is lost, nothing is stored twice, detector state is kept.

The service runs as a real subprocess against the session's Mosquitto and influxd; the points are
counted in influxd.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from devices import protocol
from foreshock.db import make_engine, session_factory
from foreshock.models import DetectorState
from foreshock.settings import load_settings
from foreshock.tsdb.influx1 import Influx1Store
from tests.ingest.conftest import wait_until
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICES = [f"K-{i:04d}" for i in range(5)]


def _config(tmp_path: Path, mosquitto, influxd, db: str) -> Path:
    cfg = tmp_path / "foreshock.toml"
    cfg.write_text(f"""
data_dir = "{tmp_path / 'data'}"
log_level = "WARNING"
[mqtt]
url = "{mosquitto.url}"
username = "{PLATFORM_USER}"
password = "{PLATFORM_PASSWORD}"
client_id = "kill-{uuid.uuid4().hex[:8]}"
reconnect_min_s = 0.5
reconnect_max_s = 1.0
[telemetry]
backend = "influx1"
url = "{influxd.url}"
database = "{db}"
flush_interval_s = 0.1
[ingest]
auto_register = true
""")
    return cfg


class Service:
    """``foreshock run`` (or ``argv`` run by Python, e.g. a wrapper script) as a subprocess, its output in ``log``.

    Waits on it should start with :meth:`check_running` (or use :meth:`running`): a service that exited
    (a bad setting, a crash at start) then fails the test at once with its log, not at the end of the wait."""

    def __init__(self, cfg: Path, log: Path, argv: list[str] | None = None) -> None:
        self._path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in wait()
        root = str(Path(__file__).resolve().parents[2])  # this checkout, also for a script run from elsewhere
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        argv = argv or ["-m", "foreshock", "--config", str(cfg), "run", "--no-api"]
        self.proc = subprocess.Popen([sys.executable, *argv], stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     cwd=root)

    def log_tail(self, chars: int = 4000) -> str:
        return self._path.read_text(errors="replace")[-chars:]

    def check_running(self) -> None:
        """Raise :class:`AssertionError` with the exit status and the log's end if the process has exited."""
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"foreshock run exited with status {code}; its log ends:\n{self.log_tail()}")

    def running(self, condition: Callable[[], bool]) -> Callable[[], bool]:
        """``condition`` for :func:`wait_until`, failing at once when the process has exited."""

        def check() -> bool:
            self.check_running()
            return condition()

        return check

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)


def settled_count(count: Callable[[], int], what: str) -> int:
    """``count()`` once it has stopped changing (the same in three reads 0.5 s apart). A write that a
    killed service had sent lands in the store after the kill: influxd finishes a request whose client
    has gone, and on a loaded machine that can take a while."""
    counts = [-1]

    def settled() -> bool:
        counts.append(count())
        if len(counts) > 3 and counts[-1] == counts[-2] == counts[-3]:
            return True
        time.sleep(0.5)
        return False

    wait_until(settled, 60, what=what)
    return counts[-1]


def _publish(publisher, t0: int, seqs: range, wait: bool) -> None:
    for i in seqs:
        device = DEVICES[i % len(DEVICES)]
        payload = protocol.telemetry_payload(t0 + i, i, {"load": float(i), "temperature_c": 40.0 + (i % 7)})
        if wait:
            publisher.publish(protocol.topic(device, "telemetry"), payload)
        else:
            publisher.client.publish(protocol.topic(device, "telemetry"), payload, qos=1)


def test_sigkill_mid_stream_then_restart_loses_nothing_and_sigterm_stops_cleanly(mosquitto, influxd, publisher,
                                                                                 tmp_path):
    db = f"kill_{uuid.uuid4().hex[:8]}"
    cfg = _config(tmp_path, mosquitto, influxd, db)
    store = Influx1Store.from_settings(load_settings(cfg).telemetry)
    t0 = protocol.now_ms() - 3_600_000
    total = 4000

    def stored() -> int:
        try:
            return sum(len(store.query("telemetry", d, t0, t0 + total)) for d in DEVICES)
        except Exception:  # noqa: BLE001 - the database does not exist before the first write
            return 0

    first = Service(cfg, tmp_path / "run1.log")
    try:
        def first_stored() -> bool:  # published until the new session has subscribed (idempotent point)
            first.check_running()
            _publish(publisher, t0, range(1), wait=True)
            return stored() == 1

        wait_until(first_stored, 60, what="the service to subscribe and store a first message")
        _publish(publisher, t0, range(1, 3000), wait=False)  # a burst: the kill lands while it is processed
        wait_until(first.running(lambda: stored() >= 300), 60, what="part of the burst stored")
        first.proc.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        at_kill = settled_count(stored, "the killed service's last write to land")
        _publish(publisher, t0, range(3000, total), wait=True)  # published while no one is subscribed
        assert stored() == at_kill  # nothing written while down: the broker holds it for the session
    finally:
        first.kill()

    second = Service(cfg, tmp_path / "run2.log")
    try:
        wait_until(second.running(lambda: stored() == total), 120, what=f"all {total} messages after the restart")
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0  # graceful: within the shutdown bound, exit code 0
    finally:
        second.kill()
    rows = [r for d in DEVICES for r in store.query("telemetry", d, t0, t0 + total)]
    assert sorted(int(r.fields["load"]) for r in rows) == list(range(total))  # each once: none lost, none doubled
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'foreshock.db'}")
    with session_factory(engine)() as s:
        saved = {row.device_id: json.loads(row.state_json)["last_ts"] for row in s.scalars(select(DetectorState))}
    engine.dispose()
    assert set(saved) == set(DEVICES)  # detector state written at shutdown: the next start resumes it
    assert max(v["telemetry"] for v in saved.values()) == (t0 + total - 1) / 1000
    assert "Traceback" not in (tmp_path / "run2.log").read_text()
    store.close()


def test_a_wait_on_a_service_that_exited_fails_at_once_with_its_log(tmp_path):
    """A service that exits during a wait (here a setting it refuses at start) fails the wait at once,
    naming the exit status and quoting its log; the waits ran to their end (60-120 s) and said only
    "timed out"."""
    cfg = tmp_path / "foreshock.toml"
    cfg.write_text('data_dir = "/dev/null/data"\n')  # a folder that cannot be created: exit 1, named
    service = Service(cfg, tmp_path / "run.log")
    try:
        with pytest.raises(AssertionError) as failed:
            wait_until(service.running(lambda: False), 120, what="something the service never does")
    finally:
        service.kill()
    assert "foreshock run exited with status 1; its log ends:" in str(failed.value)
    assert "setting data_dir (FORESHOCK_DATA_DIR): cannot use the folder /dev/null/data" in str(failed.value)
    assert "timed out" not in str(failed.value)
