"""``foreshock evaluate`` on small slices of the shared datasets, and on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import read_run, write_run

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared datasets not present")

NAB_FILES = ["artificialWithAnomaly/art_daily_jumpsup.csv", "artificialWithAnomaly/art_daily_flatmiddle.csv",
             "artificialNoAnomaly/art_daily_small_noise.csv", "realKnownCause/ambient_temperature_system_failure.csv"]


def evaluate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args, "--jobs", "1"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def nab_slice(tmp_path: Path) -> Path:
    """A NAB corpus of four series with their labels, laid out as NAB ships it."""
    root = tmp_path / "nab"
    labels = json.loads((DATA / "nab" / "labels" / "combined_windows.json").read_text())
    for rel in NAB_FILES:
        dest = root / "data" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "nab" / "data" / rel, dest)
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps({k: labels[k] for k in NAB_FILES}))
    return root


@needs_data
def test_nab_slice_scores_in_all_three_profiles(capsys, nab_slice: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "report.json"
    code, out, err = evaluate(capsys, str(nab_slice), "--json", str(out_json))
    assert code == 0, err
    report = json.loads(out_json.read_text())
    assert set(report["nab"]) == {"standard", "reward_low_fp", "reward_low_fn"}
    detail = report["nab_detail"]
    assert detail["series"] == 4 and detail["windows"] == 4
    # the jump in art_daily_jumpsup goes beyond every value seen before: detected in its window
    assert detail["profiles"]["standard"]["per_series_raw"]["artificialWithAnomaly/art_daily_jumpsup.csv"] > 0.5
    assert 0 < report["nab"]["standard"] <= 100
    assert "standard" in out and "[4/4]" in err


@needs_data
def test_records_report_true_and_diagnosed_fault_and_accuracy(capsys, tmp_path: Path) -> None:
    names = ["normal_0_97", "12k_Fan_End_IR021_0_270", "48k_Drive_End_OR007at6_0_135"]
    out_json = tmp_path / "r.json"
    code, _, err = evaluate(capsys, *(str(DATA / "cwru" / f"{n}.npz") for n in names), "--json", str(out_json))
    assert code == 0, err
    report = json.loads(out_json.read_text())
    by = {r["name"]: r for r in report["records"]}
    assert set(by) == set(names)
    assert by["normal_0_97"]["true_fault"] == "none" and by["normal_0_97"]["diagnosed_fault"] == "none"
    assert by["12k_Fan_End_IR021_0_270"]["true_fault"] == "inner_race"
    assert all(0.0 <= r["confidence"] <= 1.0 for r in report["records"])
    acc = report["record_accuracy"]
    assert set(acc) == {"none", "inner_race", "outer_race", "all"}
    hits = sum(r["diagnosed_fault"] == r["true_fault"] for r in report["records"])
    assert acc["all"] == round(hits / 3, 3)


@needs_data
def test_run_truncated_for_phm2012_is_fed_only_up_to_the_cut(capsys, tmp_path: Path) -> None:
    src = read_run(DATA / "femto" / "Bearing3_1")
    meta = dict(src.meta, phm2012_truncate_at_t=4000.0)
    path = write_run(tmp_path / "cut", src.x, src.t, fs=src.fs, rpm=src.rpm, meta=meta)
    out_json = tmp_path / "run.json"
    code, out, err = evaluate(capsys, str(path), str(DATA / "ims" / "test2" / "bearing1.csv"), "--json", str(out_json))
    assert code == 0, err
    runs = {r["name"]: r for r in json.loads(out_json.read_text())["runs"]}
    femto = runs["femto_Bearing3_1"]
    assert femto["failure_t"] == 5140.0
    assert femto["truncated_at_t"] == 4000.0 and femto["actual_rul_s"] == 1140.0
    assert 0.0 <= femto["phm2012_score"] <= 1.0
    # fed only up to the cut: no warning after it, whatever the run did later
    assert femto["first_warning_t"] is None or femto["first_warning_t"] <= 4000.0
    ims = runs["ims_test2_bearing1"]
    assert ims["failure_t"] == pytest.approx(589800.0)  # 2004-02-12 10:32:39 -> 2004-02-19 06:22:39
    assert ims["first_warning_t"] is not None
    assert ims["lead_time_s"] == pytest.approx(ims["failure_t"] - ims["first_warning_t"])
    assert "phm2012_score" not in ims
    assert "PHM2012" in out


@pytest.mark.slow
def test_simulated_fleet_summary(capsys, tmp_path: Path) -> None:
    from simulator.files import write_fleet_files
    from simulator.fleet import demo_fleet

    truth = write_fleet_files(demo_fleet(), tmp_path / "fleet", start_ms=1_700_000_000_000, duration_s=172800)
    out_json = tmp_path / "f.json"
    code, out, err = evaluate(capsys, str(tmp_path / "fleet"), "--json", str(out_json))
    assert code == 0, err
    report = json.loads(out_json.read_text())
    assert len(report["runs"]) == len(truth.units)  # runs only: the fleet's telemetry series are not NAB
    s = report["fleet"]["fleet"]
    faults = {u["fault"] or "none" for u in truth.units}
    assert set(s["per_fault"]) == faults
    failed = {u["fault"] for u in truth.failed()}
    for kind in failed:
        assert 0.0 <= s["per_fault"][kind]["warned_24h_share"] <= 1.0
    assert s["false_warnings_per_unit_day"] is not None and s["false_warnings_per_unit_day"] >= 0
    assert "Fleet fleet" in out


def test_unknown_format_is_refused_naming_the_file(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    code, _, err = evaluate(capsys, str(bad))
    assert code == 2
    assert "notes.txt" in err and "unknown format" in err


def test_missing_path_is_refused(capsys, tmp_path: Path) -> None:
    code, _, err = evaluate(capsys, str(tmp_path / "nowhere.csv"))
    assert code == 2 and "nowhere" in err


def test_file_not_matching_its_format_is_refused_with_file_and_problem(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "series.csv"
    bad.write_text("timestamp,value\n2024-01-01 00:00:00,1.0\n2024-01-01 00:01:00,hot\n")
    code, _, err = evaluate(capsys, str(bad))
    assert code == 2
    assert "series.csv" in err and "line 3" in err and "not a number" in err
    npz = tmp_path / "junk.npz"
    npz.write_bytes(b"not a zip")
    code, _, err = evaluate(capsys, str(npz))
    assert code == 2 and "junk.npz" in err


def test_empty_folder_is_refused(capsys, tmp_path: Path) -> None:
    code, _, err = evaluate(capsys, str(tmp_path))
    assert code == 2 and "no dataset found" in err


def test_a_synthetic_run_warns_before_failure(capsys, tmp_path: Path) -> None:
    """End to end on a run whose vibration grows tenfold over its last third."""
    rng = np.random.default_rng(0)
    n, fs = 120, 25600.0
    t = np.arange(n) * 10.0
    gain = np.where(np.arange(n) < 80, 1.0, 1.0 + ((np.arange(n) - 80) / 40.0) ** 2 * 9)
    x = rng.normal(0, 0.3, (n, 2560)) * gain[:, None]
    path = write_run(tmp_path / "grow", x, t, fs=fs, rpm=1800.0, events=[{"kind": "failure", "t": float(t[-1])}])
    out_json = tmp_path / "g.json"
    code, _, err = evaluate(capsys, str(path), "--json", str(out_json))
    assert code == 0, err
    r = json.loads(out_json.read_text())["runs"][0]
    assert r["first_warning_t"] is not None and 800.0 <= r["first_warning_t"] < t[-1]
    assert r["false_warnings"] == 0
    assert r["lead_time_s"] == pytest.approx(t[-1] - r["first_warning_t"])


@pytest.mark.parametrize(("onset_t", "before_onset"), [(790.0, 0), (1150.0, 1)])
def test_a_run_that_knows_its_onset_counts_false_warnings_before_it(capsys, tmp_path: Path, onset_t: float,
                                                                   before_onset: int) -> None:
    """A simulated run knows when its fault began: a warning after the onset is not false even in
    the first half of the run (``false_warnings`` keeps the first-half rule, as the JSON promises)."""
    rng = np.random.default_rng(0)
    n = 120
    t = np.arange(n) * 10.0
    gain = np.where(np.arange(n) < 80, 1.0, 1.0 + ((np.arange(n) - 80) / 40.0) ** 2 * 9)
    x = rng.normal(0, 0.3, (n, 2560)) * gain[:, None]
    events = [{"kind": "onset", "t": onset_t, "mode": "outer_race"}, {"kind": "failure", "t": 3000.0, "mode": "outer_race"}]
    path = write_run(tmp_path / "sim", x, t, fs=25600.0, rpm=1800.0, events=events)
    out_json = tmp_path / "s.json"
    code, out, err = evaluate(capsys, str(path), "--json", str(out_json))
    assert code == 0, err
    r = json.loads(out_json.read_text())["runs"][0]
    assert 800.0 <= r["first_warning_t"] < 1150.0  # in the first half of a run failing at 3,000 s
    assert r["false_warnings"] == 1
    assert r["false_warnings_before_onset"] == before_onset
    row = next(line for line in out.splitlines() if line.strip().startswith("sim "))
    assert row[2 + 28 + 30:2 + 28 + 36].strip() == str(before_onset)  # the "false" column
    assert "before the fault's onset" in out
