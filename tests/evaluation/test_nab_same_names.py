"""Two NAB corpora holding a series of the same name (the corpus and a copy with one series changed,
to see what the change does): the second series replaced the first in the scoring, without a word,
the report counting half the series that were evaluated."""

from __future__ import annotations

import json
from pathlib import Path

from foreshock.cli import main


def _corpus(root: Path, step: float) -> Path:
    path = root / "data" / "g" / "a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("timestamp,value\n" + "".join(f"2020-01-01 00:{m:02d}:00,{m * step}\n" for m in range(40)))
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(
        {"g/a.csv": [["2020-01-01 00:20:00", "2020-01-01 00:25:00"]]}))
    return root


def test_series_of_one_name_in_two_corpora_are_both_scored(capsys, tmp_path: Path) -> None:
    first, second = _corpus(tmp_path / "nab", 0.5), _corpus(tmp_path / "copy", 0.7)
    out_json = tmp_path / "r.json"
    code = main(["evaluate", str(first), str(second), "--jobs", "1", "--quiet", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert code == 0
    detail = json.loads(out_json.read_text())["nab_detail"]
    assert detail["series"] == 2 and detail["windows"] == 2
    assert set(detail["profiles"]["standard"]["per_series_raw"]) == {str(first / "data" / "g" / "a.csv"),
                                                                    str(second / "data" / "g" / "a.csv")}
    assert "NAB (2 series, 2 windows)" in out
