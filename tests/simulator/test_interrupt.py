"""Ctrl-C during ``foreshock simulate`` leaves what was done usable and says what it left.

Found by interrupting the documented commands:
- ``--out DIR``: the unit being written stayed behind half-written (``PX-0001.npz`` without its
  sidecar, its compressed data cut), and ``foreshock evaluate DIR`` then ended in a traceback;
- publishing with ``--truth FILE``: the truth of what had been published (which units had which
  fault, from when) was lost, though the service had already received those hours of data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import simulator.files
from foreshock.cli import main

FLEET = """
seed = 3
duration = "2h"
snapshot_interval = "30m"
[[units]]
id = "P-1"
model = "P-1800"
[[units]]
id = "P-2"
model = "P-1800"
fault = { kind = "outer_race", onset = "30m", failure = "90m" }
"""


def test_an_interrupted_out_keeps_the_whole_units_and_removes_the_one_being_written(capsys, monkeypatch, tmp_path):
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    real = simulator.files.write_series

    def write_series(path, *a, **k):  # Ctrl-C while P-2's series are written: its run file is already there
        if Path(path).name.startswith("P-2_"):
            raise KeyboardInterrupt
        return real(path, *a, **k)

    monkeypatch.setattr(simulator.files, "write_series", write_series)
    out = tmp_path / "runs"
    code = main(["simulate", str(fleet), "--out", str(out), "--start", "2026-01-01T00:00:00Z"])
    err = capsys.readouterr().err
    assert code == 130
    names = sorted(p.name for p in out.iterdir())
    assert names and all(n.startswith("P-1") for n in names), names  # nothing of P-2, nothing hidden left
    assert "P-1.npz" in names and "P-1.json" in names
    assert f"{out}: interrupted: 1 of 2 units written whole" in err and "no truth.json" in err


def test_an_out_that_fails_while_writing_a_unit_leaves_no_part_of_it(monkeypatch, tmp_path):
    from simulator.fleet import load_fleet

    def full(path, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(simulator.files, "write_series", full)
    fleet = load_fleet({"seed": 1, "duration": "1h", "units": [{"id": "P-1", "model": "P-1800"}]})
    with pytest.raises(OSError):
        simulator.files.write_fleet_files(fleet, tmp_path / "o", start_ms=0, duration_s=3600.0)
    assert list((tmp_path / "o").iterdir()) == []


@pytest.mark.integration
def test_ctrl_c_while_publishing_writes_the_truth_of_what_was_published(tmp_path):
    from tests.servers import start_broker

    broker = start_broker(workdir=tmp_path / "mq")  # anonymous: no users, no ACL
    try:
        fleet = tmp_path / "fleet.toml"
        fleet.write_text(FLEET.replace('duration = "2h"', 'duration = "2d"'))
        truth = tmp_path / "truth.json"
        env = {**os.environ, "FORESHOCK_MQTT__URL": f"mqtt://{broker.host}:{broker.port}",
               "FORESHOCK_DATA_DIR": str(tmp_path / "data")}
        proc = subprocess.Popen([sys.executable, "-m", "foreshock", "simulate", str(fleet), "--speed", "60",
                                 "--truth", str(truth)], stderr=subprocess.PIPE, text=True, env=env,
                                cwd=Path(__file__).resolve().parents[2])
        lines: list[str] = []
        deadline = time.monotonic() + 120
        assert proc.stderr is not None
        while time.monotonic() < deadline:  # progress lines come once a second: wait for some messages sent
            line = proc.stderr.readline()
            lines.append(line)
            if line.startswith("sim ") and " messages 0 " not in line:
                break
            assert line, f"simulate ended early: {''.join(lines)}"
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=120)[1]
        assert proc.returncode == 130, "".join(lines) + rest
        doc = json.loads(truth.read_text())
        assert [u["unit_id"] for u in doc["units"]] == ["P-1", "P-2"]
        assert doc["start_ms"] < doc["end_ms"] < doc["start_ms"] + 2 * 86_400_000  # up to where it stopped
        assert "interrupted" in rest and str(truth) in rest
    finally:
        broker.cleanup()


def test_an_out_interrupted_before_its_first_unit_leaves_no_folder_and_says_so(capsys, monkeypatch, tmp_path):
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)

    def write_series(path, *a, **k):  # Ctrl-C while the first unit is written
        raise KeyboardInterrupt

    monkeypatch.setattr(simulator.files, "write_series", write_series)
    out = tmp_path / "new" / "runs"
    code = main(["simulate", str(fleet), "--out", str(out), "--start", "2026-01-01T00:00:00Z"])
    err = capsys.readouterr().err
    assert code == 130
    assert not (tmp_path / "new").exists()
    # it said "0 of 2 units written whole ... write it again into an empty folder" of a folder no longer there
    assert f"foreshock: {out}: interrupted before a unit was written whole: nothing was kept (the folder made " \
           "for the run was removed)" in err, err
