"""The worker processes of ``foreshock evaluate --jobs N`` end with the evaluation.

- On an error in one dataset the others' workers were meant to be stopped at once, but
  ``pool.shutdown()`` had already dropped the pool's list of them: a worker busy with a long run
  went on to its end (the command printed its error, then sat for as long as that run took).
- After a finished evaluation the pool's manager thread was left to end by itself: Python 3.11's
  exit hook racing it printed ``OSError: [Errno 9] Bad file descriptor`` with a traceback under the
  report, about one run in fifteen.
"""

from __future__ import annotations

import json
import multiprocessing
import textwrap
from pathlib import Path

import numpy as np
import pytest

from evaluation.discover import discover
from evaluation.harness import evaluate
from evaluation.options import DetectorFailed, Options
from foreshock.datasets import write_run

HOLDS_ITS_WORKER = textwrap.dedent('''
    import time
    from pathlib import Path

    STARTED = Path({started!r})

    class Holds:
        """Holds its worker for a minute on the series of 1s; fails on the series of 2s once the other
        worker is held (so that a worker is busy when the error comes)."""
        def score_one(self, x):
            if x["value"] == 1.0:
                STARTED.touch()
                time.sleep(60)
                return 0.0
            while not STARTED.exists():
                time.sleep(0.01)
            raise ValueError("cannot score this")
        def learn_one(self, x):
            pass
''')


def _nab_corpus(root: Path) -> Path:
    for name, value in (("held", 1.0), ("fails", 2.0)):
        path = root / "data" / "g" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"2020-01-01 00:{m:02d}:00,{value}\n" for m in range(30))
        path.write_text("timestamp,value\n" + rows)
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps({"g/held.csv": [], "g/fails.csv": []}))
    return root


@pytest.mark.timeout(120)
def test_on_an_error_the_worker_busy_with_another_dataset_is_stopped(tmp_path: Path) -> None:
    detector = tmp_path / "holds.py"
    detector.write_text(HOLDS_ITS_WORKER.format(started=str(tmp_path / "started")))
    items = discover([_nab_corpus(tmp_path / "nab")])
    options = Options.parse(f"{detector}:Holds", None, None)
    with pytest.raises(DetectorFailed, match="raised ValueError: cannot score this at row 1 of "):
        evaluate(items, jobs=2, options=options)
    assert (tmp_path / "started").exists()  # the other worker was busy when the error came
    assert multiprocessing.active_children() == []  # and it was stopped, not left to finish


def test_after_an_evaluation_in_workers_no_worker_or_pool_thread_is_left(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        x = np.random.default_rng(0).normal(0, 0.1, (6, 256))
        write_run(tmp_path / name, x, [10, 20, 30, 40, 50, 60], fs=25600, rpm=1800,
                  events=[{"kind": "failure", "t": 50.0}])
    report = evaluate(discover([tmp_path]), jobs=2)
    assert len(report["runs"]) == 3
    assert multiprocessing.active_children() == []
    from concurrent.futures import process

    assert all(wakeup._closed for wakeup in process._threads_wakeups.values())  # the manager thread has ended
