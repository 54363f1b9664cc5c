"""Measuring a change of settings as an engineer would: two reports, the settings each was made with,
and what changed between them.

Found walking through docs/detectors.md ("Measure a change before you make it"): a report made
with the defaults recorded no settings at all (``monitor_config`` appears only with overrides), so
two saved reports could not say what they were measured with, and the only way to compare them
was to read two JSON files of per-run dicts side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors.config import MonitorConfig
from evaluation.compare import compare
from foreshock.cli import main


def _run(path: Path) -> Path:
    from foreshock.datasets import write_run

    rng = np.random.default_rng(1)
    t = np.arange(40) * 600.0
    x = rng.normal(0, 0.1, (40, 2560))
    x[25:] *= np.linspace(1.5, 6.0, 15)[:, None]  # a vibration that rises before the failure at the end
    return write_run(path, x, t, fs=25600, rpm=1800, events=[{"kind": "failure", "t": float(t[-1])}])


def _report(capsys, tmp_path: Path, name: str, *extra: str) -> Path:
    out = tmp_path / name
    code = main(["evaluate", str(tmp_path / "u.npz"), "--jobs", "1", "--quiet", "--json", str(out), *extra])
    capsys.readouterr()
    assert code == 0
    return out


def test_every_report_records_the_engine_settings_it_was_made_with(capsys, tmp_path: Path):
    _run(tmp_path / "u")
    default = json.loads(_report(capsys, tmp_path, "d.json").read_text())
    changed = json.loads(_report(capsys, tmp_path, "c.json", "--monitor-config", "warmup=10").read_text())
    assert default["settings"]["engine"] == json.loads(json.dumps(MonitorConfig().as_dict()))
    assert default["settings"]["monitor_config"] == {}
    assert default["settings"]["scalar_detector"] == "detectors.scalar:ScalarAnomaly"
    assert changed["settings"]["engine"]["warmup"] == 10 and changed["settings"]["monitor_config"] == {"warmup": 10}
    assert changed["monitor_config"] == {"warmup": 10}  # the existing key keeps its meaning


def test_the_readable_report_says_the_defaults_were_used(capsys, tmp_path: Path):
    _run(tmp_path / "u")
    assert main(["evaluate", str(tmp_path / "u.npz"), "--jobs", "1", "--quiet"]) == 0
    assert "engine settings: the defaults" in capsys.readouterr().out


def test_compare_names_the_changed_settings_and_the_figures_that_moved(capsys, tmp_path: Path):
    _run(tmp_path / "u")
    before = _report(capsys, tmp_path, "before.json")
    after = _report(capsys, tmp_path, "after.json", "--monitor-config", "warmup=10", "--monitor-config",
                    "persistence=6")
    code = main(["evaluate", "--compare", str(before), str(after)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Comparison: {before} -> {after}" in out
    assert "engine settings changed: persistence 3 -> 6, warmup 30 -> 10" in out
    b, a = (json.loads(p.read_text())["runs"][0] for p in (before, after))
    assert b["first_warning_t"] != a["first_warning_t"]  # the settings did change the run
    assert "Runs: 1 in both, 1 changed" in out and "u: first_warning_t" in out


def test_compare_writes_json_and_names_datasets_only_one_report_holds(capsys, tmp_path: Path):
    b = {"runs": [{"name": "A", "lead_time_s": 10.0}, {"name": "B", "lead_time_s": 5.0}], "records": [], "nab": None}
    a = {"runs": [{"name": "A", "lead_time_s": 10.0}, {"name": "C", "lead_time_s": 1.0}], "records": [], "nab": None}
    (tmp_path / "b.json").write_text(json.dumps(b))
    (tmp_path / "a.json").write_text(json.dumps(a))
    code = main(["evaluate", "--compare", str(tmp_path / "b.json"), str(tmp_path / "a.json"),
                 "--json", str(tmp_path / "diff.json")])
    out = capsys.readouterr().out
    assert code == 0 and "Runs: 1 in both, 0 changed" in out
    assert f"only in {tmp_path / 'b.json'} (not compared): B" in out and "(not compared): C" in out
    diff = json.loads((tmp_path / "diff.json").read_text())
    assert diff["runs_only_before"] == ["B"] and diff["runs_only_after"] == ["C"] and diff["runs"] == []


def test_a_simulated_run_compares_its_false_warnings_against_the_onset_not_the_first_half():
    b = {"runs": [{"name": "P", "false_warnings": 1, "false_warnings_before_onset": 0}]}
    a = {"runs": [{"name": "P", "false_warnings": 0, "false_warnings_before_onset": 0}]}
    assert compare(b, a)["runs"] == []


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "no such file"), ("{not json", "not a JSON report of foreshock evaluate"),
     ('{"kind": "run"}', "not a JSON report of foreshock evaluate (no runs, records or nab)")],
)
def test_compare_refuses_a_file_that_is_not_a_report(capsys, tmp_path: Path, content, says):
    good = tmp_path / "good.json"
    good.write_text('{"runs": []}')
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    code = main(["evaluate", "--compare", str(good), str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and f"foreshock: error: --compare: {bad}: {says}" in err and "Traceback" not in err


def test_compare_with_a_dataset_path_is_refused(capsys, tmp_path: Path):
    code = main(["evaluate", str(tmp_path), "--compare", "a.json", "b.json"])
    assert code == 2 and "--compare compares two saved reports; PATH cannot be given" in capsys.readouterr().err


def test_a_figure_an_older_report_lacks_is_not_a_change():
    old = {"runs": [{"name": "P", "lead_time_s": 5.0}], "fleet": {"f": {"false_warnings": 0}}}
    new = {"runs": [{"name": "P", "lead_time_s": 5.0, "unassessed": 0}],
           "fleet": {"f": {"false_warnings": 0, "unassessed_share": 0.0}}}
    c = compare(old, new)
    assert c["runs"] == [] and c["fleet"] == {"f": {}}


def test_a_section_only_one_report_holds_is_named_once_not_compared_figure_by_figure():
    from evaluation.compare import render_comparison

    b = {"runs": [], "records": [{"name": f"R{i}", "diagnosed_fault": "none"} for i in range(8)],
         "record_accuracy": {"all": 1.0}, "nab": {"standard": 60.1}}
    a = {"runs": [], "records": [], "record_accuracy": {}, "nab": None}
    text = render_comparison(compare(b, a), "b.json", "a.json")
    assert "only in b.json (not compared): R0, R1, R2, R3, R4 and 3 more" in text
    assert "NAB: only in b.json (not compared)" in text and "accuracy" not in text


def test_compare_refuses_to_write_over_one_of_the_reports_it_compares(capsys, tmp_path: Path):
    """``--compare before.json after.json --json after.json`` replaced the second report by the comparison."""
    report = {"runs": [{"name": "A", "lead_time_s": 10.0}], "records": [], "nab": None}
    for name in ("b.json", "a.json"):
        (tmp_path / name).write_text(json.dumps(report))
    code = main(["evaluate", "--compare", str(tmp_path / "b.json"), str(tmp_path / "a.json"),
                 "--json", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--json {tmp_path / 'a.json'}: is one of the two reports compared; it would be overwritten" in err, err
    assert json.loads((tmp_path / "a.json").read_text()) == report
