"""A run's snapshot stamped like the one before it (a unit sending every message twice, the simulator's
``duplicate`` sensor fault) is not fed to the engine again, as the service does not feed it: the engine
learnt it twice and counted it twice (``observations``) in ``foreshock evaluate`` only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.runs import evaluate_run
from foreshock.datasets import read_run, write_run


def test_a_repeated_snapshot_is_not_fed_again(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.05, (40, 2048))
    t = np.arange(40) * 600.0
    twice = np.repeat(np.arange(40), [2 if 10 <= k < 20 else 1 for k in range(40)])  # snapshots 10-19 sent twice
    path = write_run(tmp_path / "dup", x[twice], t[twice], fs=25600, rpm=1800, events=[])
    res = evaluate_run(read_run(path))
    assert res["observations"] == 40 and res["repeated"] == 10
    once = evaluate_run(read_run(write_run(tmp_path / "once", x, t, fs=25600, rpm=1800, events=[])))
    assert once["repeated"] == 0
    assert {k: v for k, v in res.items() if k != "repeated"} == {k: v for k, v in once.items() if k != "repeated"} | {
        "name": "dup"}
