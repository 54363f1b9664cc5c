"""``foreshock run`` stopped (SIGTERM) with its ingest worker busy in the detectors past the stop's bound:
the process ends within the bound with its own exit status, names the busy thread, and what the
worker had acknowledged is stored.

The service is the real CLI in a subprocess; a wrapper makes its detectors hold every message in
scipy.fft until the test releases it (never, here) and shortens the stop's bound to 4 s. Before, the
stop's last state save waited for the batch as long as it took: the process never ended. With that
fixed but the process still ending through the interpreter's teardown, with the worker inside
scipy.fft, this test saw SIGABRT (-6, "terminate called without an active exception") in 6 of 6 runs:
it now ends by ``os._exit``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from devices import protocol
from foreshock.service import EXIT_BUSY_AT_STOP
from foreshock.settings import load_settings
from foreshock.tsdb import open_store
from tests.ingest.conftest import MIN_WAIT_S, wait_until
from tests.reliability.test_process_faults import Service
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_WRAPPER = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    import numpy as np
    import scipy.fft

    import foreshock.detection as detection
    from foreshock.cli import main
    from foreshock.service import Pipeline

    cfg, marker, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    def one(self, msg, points):  # slow detectors: scipy work until the test releases them
        marker.write_text(msg.device_id)
        x = np.random.default_rng(0).random(1 << 16)
        while not release.exists():
            scipy.fft.irfft(scipy.fft.rfft(x))

    detection.DetectionStage._one = one
    stop = Pipeline.stop
    Pipeline.stop = lambda self, timeout_s=None: stop(self, 4.0)
    sys.exit(main(["--config", cfg, "run", "--no-api"]))
""")


def test_sigterm_with_the_worker_busy_past_the_bound_exits_with_its_status_and_keeps_what_it_acked(
        mosquitto, publisher, tmp_path):
    cfg = tmp_path / "foreshock.toml"
    cfg.write_text(f"""
data_dir = "{tmp_path / 'data'}"
log_level = "INFO"
[mqtt]
url = "{mosquitto.url}"
username = "{PLATFORM_USER}"
password = "{PLATFORM_PASSWORD}"
client_id = "busy-{uuid.uuid4().hex[:8]}"
[telemetry]
flush_interval_s = 0.05
[ingest]
auto_register = true
""")
    wrapper = tmp_path / "busy_run.py"
    wrapper.write_text(_WRAPPER)
    marker, release = tmp_path / "in-detectors", tmp_path / "release"
    device = f"BW-{uuid.uuid4().hex[:6]}"
    t0 = protocol.now_ms() - 60_000
    service = Service(cfg, tmp_path / "run.log", argv=[str(wrapper), str(cfg), str(marker), str(release)])
    try:
        def in_detectors() -> bool:  # published until the service has subscribed and its worker holds one
            service.check_running()
            publisher.publish(protocol.topic(device, "telemetry"),
                              protocol.telemetry_payload(t0, 0, {"load": 1.0, "temperature_c": 40.0}))
            return marker.exists()

        wait_until(in_detectors, MIN_WAIT_S, what="the worker to be in the detectors")
        service.proc.send_signal(signal.SIGTERM)
        try:
            code = service.proc.wait(MIN_WAIT_S)  # the stop's bound is 4 s
        except subprocess.TimeoutExpired:
            pytest.fail(f"foreshock run did not end after SIGTERM; its log ends:\n{service.log_tail()}")
        log = service.log_tail(100_000)
        assert code == EXIT_BUSY_AT_STOP, log
        assert "the detection stage is still busy with a batch (thread ingest-worker since" in log
        assert "still busy with a batch begun" in log and "(in the detectors, stored and acknowledged)" in log
        assert "foreshock: stopped with a worker still busy at the stop's bound (thread ingest-worker since" in log
        assert f"exit status {EXIT_BUSY_AT_STOP}" in log
        assert "Traceback" not in log and "terminate called" not in log
    finally:
        release.touch()
        service.kill()
    store = open_store(load_settings(cfg))
    try:  # the message in the detectors was stored before it was acknowledged
        assert [r.ts_ms for r in store.query("telemetry", device, t0, t0 + 1)] == [t0]
    finally:
        store.close()
