"""``--model-config MODEL:KEY=VALUE``: a setting tried on one machine model's runs only, as a model's
``detector_config`` applies to its units only.

Found measuring a change "for our new pump model" on a simulated fleet that also holds other models
as references: ``--monitor-config`` changes every run (the other models' and FEMTO's too), so the
references moved with the change and a per-model override could not be measured as it would act.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import write_run


def _runs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(40) * 600.0
    x = rng.normal(0, 0.1, (40, 2560))
    x[25:] *= np.linspace(1.5, 6.0, 15)[:, None]
    for name, model in (("A", "PX-1450"), ("B", "P-1800")):
        write_run(tmp_path / name, x, t, fs=25600, rpm=1800, events=[{"kind": "failure", "t": float(t[-1])}],
                  meta={"model": model})


def _report(capsys, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "r.json"
    code = main(["evaluate", str(tmp_path / "A.npz"), str(tmp_path / "B.npz"), "--jobs", "1", "--quiet",
                 "--json", str(out), *extra])
    text = capsys.readouterr()
    assert code == 0, text.err
    return {"report": json.loads(out.read_text()), "text": text.out}


def test_a_model_setting_changes_that_models_runs_only(capsys, tmp_path: Path):
    _runs(tmp_path)
    default = _report(capsys, tmp_path)["report"]
    got = _report(capsys, tmp_path, "--model-config", "PX-1450:warmup=10", "--model-config", "PX-1450:persistence=6")
    changed = got["report"]
    runs = {r["name"]: r for r in changed["runs"]}
    before = {r["name"]: r for r in default["runs"]}
    assert runs["A"]["engine_overrides"] == {"warmup": 10, "persistence": 6}
    assert runs["B"]["engine_overrides"] == {}
    assert runs["A"]["first_warning_t"] != before["A"]["first_warning_t"]
    assert runs["B"]["first_warning_t"] == before["B"]["first_warning_t"]
    assert changed["settings"]["model_config"] == {"PX-1450": {"warmup": 10, "persistence": 6}}
    assert "engine settings for model PX-1450: warmup=10, persistence=6" in got["text"]


def test_a_model_setting_goes_over_the_setting_for_all(capsys, tmp_path: Path):
    _runs(tmp_path)
    got = _report(capsys, tmp_path, "--monitor-config", "warmup=12", "--model-config", "PX-1450:warmup=10")["report"]
    runs = {r["name"]: r for r in got["runs"]}
    assert runs["A"]["engine_overrides"] == {"warmup": 10} and runs["B"]["engine_overrides"] == {"warmup": 12}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("warmup=10", "--model-config: expected MODEL:KEY=VALUE or MODEL:FILE.json, got 'warmup=10'"),
        ("PX-1450:warmup=-1", "--model-config PX-1450: warmup must be at least 8 snapshots, got -1"),
        ("NOPE:warmup=10", "--model-config NOPE: no run or series of that model among the datasets "
                           "(their models: P-1800, PX-1450)"),
    ],
)
def test_a_model_setting_that_cannot_apply_is_refused_before_evaluating(capsys, tmp_path: Path, value, says):
    _runs(tmp_path)
    code = main(["evaluate", str(tmp_path / "A.npz"), str(tmp_path / "B.npz"), "--jobs", "1", "--quiet",
                 "--model-config", value])
    captured = capsys.readouterr()
    assert code == 2 and f"foreshock: error: {says}" in captured.err and "Runs" not in captured.out


def test_a_comparison_names_the_model_settings_that_changed(capsys, tmp_path: Path):
    _runs(tmp_path)
    before = tmp_path / "before.json"
    after = tmp_path / "after.json"
    for out, extra in ((before, []), (after, ["--model-config", "PX-1450:warmup=10"])):
        assert main(["evaluate", str(tmp_path / "A.npz"), str(tmp_path / "B.npz"), "--jobs", "1", "--quiet",
                     "--json", str(out), *extra]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--compare", str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "engine settings changed: PX-1450:warmup (not set) -> 10" in out
    assert "  A: first_warning_t" in out and "  B:" not in out
