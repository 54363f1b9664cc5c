"""A NAB corpus whose labels are not what NAB ships, as an engineer adding a series of their own
leaves it: each refused naming the labels file, the series and the problem.

- a window that is no time (``["yesterday", "today"]``) or not text: a ValueError / AttributeError
  traceback;
- a labels file that is a JSON list: an AttributeError traceback;
- a series in the corpus's ``data/`` with no entry in the labels (and no failure events): judged as a
  failure series, as it may be, but refused as one "outside a NAB corpus", which it is not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foreshock.cli import main


def _corpus(root: Path, labels: Any) -> Path:
    path = root / "data" / "g" / "a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("timestamp,value\n" + "".join(f"2020-01-01 00:{m:02d}:00,{m * 0.5}\n" for m in range(40)))
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return root


@pytest.mark.parametrize(("labels", "says"), [
    ({"g/a.csv": [["yesterday", "today"]]}, "g/a.csv: window 0: ['yesterday', 'today'] are not timestamps"),
    ({"g/a.csv": [[1, 2]]}, "g/a.csv: window 0 must be [start, end], got [1, 2]"),
    ({"g/a.csv": [["2020-01-01 00:30:00", "2020-01-01 00:20:00"]]},
     "g/a.csv: window 0: ['2020-01-01 00:30:00', '2020-01-01 00:20:00'] must be two timestamps, the start first"),
    ({"g/a.csv": "none"}, "g/a.csv: expected a list of windows [[start, end], ...], got 'none'"),
    (["g/a.csv"], "NAB labels must be a JSON object of series -> windows"),
], ids=["no-times", "numbers", "reversed", "not-a-list", "list"])
def test_bad_labels_are_refused_naming_the_file_and_series(capsys, tmp_path: Path, labels: Any, says: str) -> None:
    root = _corpus(tmp_path / "nab", labels)
    code = main(["evaluate", str(root), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"foreshock: error: {root / 'labels' / 'combined_windows.json'}: {says}" in err, err


def test_a_series_of_the_corpus_without_labels_is_refused_saying_so(capsys, tmp_path: Path) -> None:
    root = _corpus(tmp_path / "nab", {"g/a.csv": []})
    mine = root / "data" / "mine" / "my.csv"
    mine.parent.mkdir()
    mine.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:01:00,2\n")
    code = main(["evaluate", str(root), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert (f"foreshock: error: {mine.with_suffix('.json')}: no 'events': a series of the NAB corpus {root} with no "
            f"entry in {root / 'labels' / 'combined_windows.json'} (add its anomaly windows there to score it as "
            "NAB) is judged as a failure series") in err, err
