"""``foreshock simulate --out`` holds a unit's snapshots in memory until its run file is written: a
fleet of 10-second snapshots over days ran for minutes, then ended in a numpy ``_ArrayMemoryError``
traceback (or was killed by the kernel), with nothing written and nothing said about why.

Now a unit that cannot fit in the memory available is refused before anything is simulated, naming
the unit and what to change; the snapshots are kept as they are stored (float16, not float32); and
running out of memory anyway is said as an error of ``--out``, not a traceback.
"""

from __future__ import annotations

import numpy as np
import pytest

import simulator.cli
import simulator.files
from foreshock.cli import main
from simulator.fleet import load_fleet

FLEET = """
seed = 1
duration = "1h"
snapshot_interval = "10m"
[[units]]
id = "P-1"
model = "P-1800"
[[units]]
id = "P-2"
model = "P-1800"
sensor_faults = [{ kind = "duplicate", start = "0s", end = "1h" }]
"""


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET)
    return path


def test_the_memory_a_unit_needs_is_estimated_from_its_snapshots():
    f = load_fleet({"seed": 1, "duration": "1h", "snapshot_interval": "10m",
                    "units": [{"id": "P-1", "model": "P-1800"}]})
    unit_id, snapshots, need = simulator.files.largest_unit(f, 3600.0)
    assert (unit_id, snapshots) == ("P-1", 7)  # 0, 10 m, ..., 60 m
    assert need == 7 * 8192 * 2 * 3  # float16, held while stacked and stored


def test_a_unit_that_would_not_fit_in_memory_is_refused_before_simulating(fleet, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(simulator.cli, "_available_memory", lambda: 500_000)
    out = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (f"--out {out}: unit P-2 would hold up to 14 snapshots of 8192 samples in memory while it is written "
            "(about 0.7 MB; 0.5 MB available): shorten --duration, lengthen snapshot_interval or lower the "
            "sensor's n") in err, err
    assert not out.exists()


def test_the_snapshots_are_held_as_they_are_stored(fleet, tmp_path, monkeypatch):
    seen = []
    real = simulator.files.write_run

    def write_run(path, x, *a, **k):
        seen.append((x.dtype, k.get("dtype")))
        return real(path, x, *a, **k)

    monkeypatch.setattr(simulator.files, "write_run", write_run)
    assert main(["simulate", str(fleet), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    assert seen == [(np.dtype("float16"), "float16")] * 2  # float32 took twice the memory for the same file


def test_running_out_of_memory_while_writing_is_an_error_of_out_not_a_traceback(fleet, tmp_path, monkeypatch,
                                                                                  capsys):
    def write_run(*a, **k):
        raise MemoryError("Unable to allocate 450. MiB")

    monkeypatch.setattr(simulator.files, "write_run", write_run)
    out = tmp_path / "runs"
    assert main(["simulate", str(fleet), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"--out {out}: out of memory writing unit P-1 (6 snapshots of 8192 samples): shorten --duration, "
            "lengthen snapshot_interval or lower the sensor's n") in err, err
    assert not out.exists()
