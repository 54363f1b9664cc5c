"""A simulated run is judged with its machine model's ISO zones, as the service judges a unit registered
under that model, not with the engine's default (group 2, rigid: 1.4 / 2.8 / 4.5 mm/s).

Found evaluating a fleet of 150 rpm agitators (a G-300 variant: ISO group 1, zones 2.3 / 4.5 / 7.1 mm/s):
a unit's first snapshot, 2.81 mm/s (zone B of its model), was taken for zone C and counted as a false
warning 15 h before its fault began. The sidecar's ``machine`` carried ``iso_group``, ``foundation``
and ``zone_limits_mm_s``; the harness passed only the speed and the bearing to the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.runs import evaluate_run, machine_of
from foreshock.datasets import DatasetError, read_run, write_run

GROUP_1 = {"iso_group": 1, "foundation": "rigid", "zone_limits_mm_s": [2.3, 4.5, 7.1]}


def _run(path: Path, machine: dict | None) -> Path:
    """Snapshots of a 100 Hz line at 3.5 mm/s RMS: zone C on the default table, zone B on group 1's."""
    fs, n = 25600, 8192
    t = np.arange(n) / fs
    a_rms_g = 3.5e-3 * 2 * np.pi * 100 / 9.80665
    rng = np.random.default_rng(0)
    x = np.stack([a_rms_g * np.sqrt(2) * np.sin(2 * np.pi * 100 * t + k) + rng.normal(0, 0.002, n)
                  for k in range(6)])
    meta = {"machine": machine} if machine is not None else {}
    return write_run(path, x, np.arange(6) * 600.0, fs=fs, rpm=1800, events=[], meta=meta)


def test_the_machine_of_a_sidecar_carries_its_zones():
    m = machine_of({"machine": GROUP_1}, 1800)
    assert (m.iso_group, m.foundation, m.zone_limits_mm_s) == (1, "rigid", (2.3, 4.5, 7.1))
    m = machine_of({"machine": {"iso_group": 2, "foundation": "flexible"}}, 1800)
    assert (m.iso_group, m.foundation, m.zone_limits_mm_s) == (2, "flexible", None)
    m = machine_of({}, 1800)  # a recording without a machine model: the engine's defaults
    assert (m.iso_group, m.foundation, m.zone_limits_mm_s) == (2, "rigid", None)


def test_a_run_is_judged_with_its_models_zones(tmp_path: Path):
    own = evaluate_run(read_run(_run(tmp_path / "own", GROUP_1)))
    default = evaluate_run(read_run(_run(tmp_path / "default", None)))
    assert default["warning_episodes"] == 1  # zone C on the default table: the check that the signal is right
    assert own["warning_episodes"] == 0 and own["false_warnings"] == 0


@pytest.mark.parametrize(("machine", "says"), [
    ({"iso_group": 7}, "machine.iso_group: expected 1, 2, 3 or 4, got 7"),
    ({"iso_group": "2"}, "machine.iso_group: expected 1, 2, 3 or 4, got '2'"),
    ({"foundation": "soft"}, "machine.foundation: expected 'rigid' or 'flexible', got 'soft'"),
    ({"zone_limits_mm_s": [4.5, 2.3, 7.1]}, "machine.zone_limits_mm_s: expected three increasing positive numbers"),
    ({"zone_limits_mm_s": "2.3"}, "machine.zone_limits_mm_s: expected three increasing positive numbers"),
    ("P-1800", "machine: expected an object (the simulator's machine model), got 'P-1800'"),
])
def test_a_machine_that_cannot_be_used_is_refused_naming_the_sidecar(machine, says):
    with pytest.raises(DatasetError) as exc:
        machine_of({"machine": machine}, 1800, "runs/U-1.json")
    assert "runs/U-1.json" in str(exc.value) and says in str(exc.value), str(exc.value)
