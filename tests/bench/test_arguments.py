"""The bench scripts refuse bad arguments with a usage error before measuring, and record nothing.

Found by running each with a bad value: ``evaluate_all.py --data MISSING`` overwrote
``bench/results/evaluate_all_report.json`` with an empty report, appended an empty row to
``evaluate_all.json`` and then crashed (TypeError); ``prognosis_calibration.py --seeds 0`` appended an
empty record; ``--kinds wobble`` raised KeyError, ``long_snapshots.py --snapshots 0``
ZeroDivisionError, ``simulator_scale.py --units 0`` a FleetError traceback,
``fleet_validation.py --fleet MISSING`` a CalledProcessError traceback, and
``ingest_throughput.py --messages 0`` waited for its whole timeout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def _snapshot() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(RESULTS.glob("*.json"))}


@pytest.mark.parametrize(
    ("script", "args", "says"),
    [
        ("evaluate_all.py", ["--data", "{tmp}"], "no nab, cwru, femto, ims folder"),
        ("evaluate_all.py", ["--jobs", "0"], "--jobs must be at least 1"),
        ("prognosis_calibration.py", ["--seeds", "0", "--out", "{tmp}/p.json"], "--seeds must be at least 1"),
        ("prognosis_calibration.py", ["--kinds", "wobble", "--out", "{tmp}/p.json"], "--kinds: unknown wobble"),
        ("prognosis_calibration.py", ["--femto", "{tmp}", "--out", "{tmp}/p.json"], "no FEMTO runs (*.npz) there"),
        ("prognosis_calibration.py", ["--set", "trend_tiers", "--out", "{tmp}/p.json"], "expected KEY=VALUE"),
        ("prognosis_calibration.py", ["--set", "trend_tiers=9", "--out", "{tmp}/p.json"], "trend_tiers must be in [0, 4]"),
        ("prognosis_calibration.py", ["--set", "trend_tier=1", "--out", "{tmp}/p.json"], "trend_tier"),
        ("prognosis_calibration.py", ["--interval", "soon", "--out", "{tmp}/p.json"], "--interval"),
        ("prognosis_calibration.py", ["--ttf-h", "72", "--out", "{tmp}/p.json"], "--ttf-h '72': expected two numbers"),
        ("prognosis_calibration.py", ["--ttf-h", "0,10", "--out", "{tmp}/p.json"], "LO above 0"),
        ("prognosis_calibration.py", ["--onset-h", "9,3", "--out", "{tmp}/p.json"], "expected 0 <= LO <= HI"),
        ("prognosis_calibration.py", ["--onset-h", "nan,3", "--out", "{tmp}/p.json"], "expected 0 <= LO <= HI"),
        ("prognosis_fleet.py", ["--fleet", "{tmp}/none.toml", "--out", "{tmp}/p.json"], "none.toml: no such file"),
        ("prognosis_fleet.py", ["--runs", "{tmp}", "--out", "{tmp}/p.json"], "no simulated runs (*.npz) there"),
        ("prognosis_fleet.py", ["--trend-from", "{tmp}/old.py", "--out", "{tmp}/p.json"], "old.py: no such file"),
        ("prognosis_fleet.py", ["--jobs", "0", "--out", "{tmp}/p.json"], "--jobs must be at least 1"),
        ("long_snapshots.py", ["--snapshots", "0"], "--snapshots must be at least 1"),
        ("simulator_scale.py", ["--units", "0", "--no-publish"], "--units must be 1..1000000"),
        ("simulator_scale.py", ["--sim-seconds", "nan", "--no-publish"], "--sim-seconds must be a positive number"),
        ("ingest_throughput.py", ["--messages", "0"], "--messages must be at least --publishers"),
        ("ingest_throughput.py", ["--modes", "fast"], "--modes: unknown fast"),
        ("fleet_soak.py", ["--units", "0"], "--units must be 1..100000"),
        ("fleet_soak.py", ["--speed", "-1"], "--speed must be a positive number"),
        ("api_history_list.py", ["--rows", "0"], "needs at least 1000 rows, got 0"),
    ],
)
def test_bad_arguments_are_a_usage_error_and_record_nothing(tmp_path: Path, script: str, args: list[str], says: str):
    before = _snapshot()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, str(ROOT / "bench" / script), *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and "Traceback" not in r.stderr
    assert _snapshot() == before
    assert not (tmp_path / "p.json").exists()


def test_fleet_validation_with_a_missing_fleet_says_why_without_a_traceback(tmp_path: Path):
    before = _snapshot()
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "fleet_validation.py"), "--fleet",
                        str(tmp_path / "none.toml")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "none.toml does not exist" in r.stderr and "nothing recorded" in r.stderr
    assert "Traceback" not in r.stderr and _snapshot() == before
