"""``foreshock evaluate`` given a machine's functional-failure limit (``failure_peak_g``, ``failure_rms_g``)
through ``--monitor-config`` (a settings file or KEY=VALUE) and ``--model-config``: the runs are judged
against it, the report records it, and ``--compare`` says it was not set before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from foreshock.cli import main
from foreshock.datasets import write_run

N, DT = 100, 600.0
LIFE_S = (N - 1) * DT


def _run(tmp_path: Path) -> Path:
    """Broadband vibration at 0.1 g RMS that grows 30-fold over its last 60 snapshots (the RMS passes 10 x its
    reference 2.6 hours before the end; the snapshots' peak ends at about 10 g, the RMS at 2.9 g)."""
    rng = np.random.default_rng(1)
    t = np.arange(N) * DT
    x = rng.normal(0, 0.1, (N, 2560))
    x[40:] *= np.exp(np.linspace(0, np.log(30), N - 40))[:, None]
    write_run(tmp_path / "A", x, t, fs=25600, rpm=1800, events=[{"kind": "failure", "t": float(t[-1])}],
              meta={"model": "PX-1450"})
    return tmp_path / "A.npz"


def _report(capsys, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
    code = main(["evaluate", str(tmp_path / "A.npz"), "--jobs", "1", "--quiet", "--json", str(out), *extra])
    text = capsys.readouterr()
    assert code == 0, text.err
    return {**json.loads(out.read_text()), "path": str(out), "text": text.out}


def test_a_stated_failure_limit_from_a_settings_file_sets_the_time_to_failure_and_the_alarm(capsys, tmp_path: Path):
    _run(tmp_path)
    default = _report(capsys, tmp_path)
    run = default["runs"][0]
    assert run["final_state"] == "alarm" and run["rul_estimate_s"] == 0.0  # past its generic limit: "0 s left"
    settings = tmp_path / "machine.json"
    settings.write_text(json.dumps({"failure_peak_g": 50}))  # beyond the end of the run
    far = _report(capsys, tmp_path, "--monitor-config", str(settings))
    assert far["monitor_config"] == {"failure_peak_g": 50.0} and far["settings"]["engine"]["failure_peak_g"] == 50.0
    assert "engine settings: failure_peak_g=50.0" in far["text"]
    run_far = far["runs"][0]
    # not failed yet: a warning with a time to the stated limit (a 30-fold rise in 60 snapshots reaches 50 g
    # about 29 snapshots, 4.9 hours, after the end's 9.5 g)
    assert run_far["final_state"] == "warning"
    assert 0.5 * 17_600 <= run_far["rul_estimate_s"] <= 1.5 * 17_600
    # the warnings are the defaults' (the generic limits are a warning with it)
    assert (run_far["first_warning_t"], run_far["false_warnings"]) == (run["first_warning_t"], run["false_warnings"])
    near = _report(capsys, tmp_path, "--monitor-config", "failure_peak_g=8")["runs"][0]  # reached before the end
    assert near["final_state"] == "alarm" and near["rul_estimate_s"] == 0.0
    rms = _report(capsys, tmp_path, "--monitor-config", "failure_rms_g=5")["runs"][0]  # the RMS ends at 2.9 g
    assert rms["final_state"] == "warning" and 0.5 * 5_760 <= rms["rul_estimate_s"] <= 1.5 * 5_760

    # a model's own: a settings file for the runs of model PX-1450
    model = _report(capsys, tmp_path, "--model-config", f"PX-1450:{settings}")
    assert model["settings"]["model_config"] == {"PX-1450": {"failure_peak_g": 50.0}}
    assert model["runs"][0]["engine_overrides"] == {"failure_peak_g": 50.0}
    assert model["runs"][0]["rul_estimate_s"] == run_far["rul_estimate_s"]

    # the comparison names the setting as not set before (recorded as null), not as unrecorded
    assert main(["evaluate", "--compare", default["path"], far["path"]]) == 0
    out = capsys.readouterr().out
    assert "engine settings changed: failure_peak_g (not set) -> 50.0" in out


def test_an_impossible_failure_limit_is_refused_before_any_file_is_read(capsys, tmp_path: Path):
    settings = tmp_path / "machine.json"
    settings.write_text(json.dumps({"failure_peak_g": "20 g"}))
    for arg in ("failure_peak_g=0", str(settings)):
        code = main(["evaluate", str(tmp_path), "--monitor-config", arg])
        err = capsys.readouterr().err
        assert code == 2 and "--monitor-config: failure_peak_g must be a finite number of g above 0" in err, err
    code = main(["evaluate", str(tmp_path), "--model-config", "PX-1450:failure_rms_g=-1"])
    err = capsys.readouterr().err
    assert code == 2 and "--model-config PX-1450: failure_rms_g must be a finite number of g above 0" in err, err
