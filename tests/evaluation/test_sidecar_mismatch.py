"""A sidecar that contradicts its npz: the npz's ``fs`` (or ``rpm``) was used and the sidecar's
ignored without a word, so a recording whose sidecar says 25.6 kHz and whose npz says 12.8 kHz was
scored at one of the two, unknown which the engineer meant. Now refused naming both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foreshock.cli import main
from foreshock.datasets import DatasetError, read_record, write_record, write_run


@pytest.mark.parametrize(("key", "said", "message"), [
    ("fs", 25600.0, "'fs' = 12800 in the npz, but its sidecar r.json says fs = 25600: correct the one that is wrong"),
    ("rpm", 1500.0, "'rpm' = 1800 in the npz, but its sidecar r.json says rpm = 1500"),
])
def test_a_sidecar_contradicting_its_run_is_refused(capsys, tmp_path: Path, key: str, said: float,
                                                    message: str) -> None:
    path = write_run(tmp_path / "r", np.random.default_rng(0).normal(0, 0.1, (4, 512)), [0, 10, 20, 30],
                     fs=12800, rpm=1800, events=[])
    doc = json.loads((tmp_path / "r.json").read_text())
    doc[key] = said
    (tmp_path / "r.json").write_text(json.dumps(doc))
    code = main(["evaluate", str(path), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"foreshock: error: {path}: {message}" in err, err


def test_a_record_whose_sidecar_agrees_or_is_silent_is_read(tmp_path: Path) -> None:
    path = write_record(tmp_path / "a", np.zeros(64) + 0.1, fs=12000, rpm=1797)
    assert read_record(path).fs == 12000.0  # the sidecar written beside it says the same
    doc = json.loads((tmp_path / "a.json").read_text())
    del doc["fs"]
    (tmp_path / "a.json").write_text(json.dumps(doc))
    assert read_record(path).fs == 12000.0
    doc["rpm"] = 1750
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="'rpm' = 1797 in the npz, but its sidecar a.json says rpm = 1750"):
        read_record(path)
