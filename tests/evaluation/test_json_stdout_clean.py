"""``foreshock evaluate --json -`` writes the report to stdout, for a pipe (``| jq``). A scalar detector
that prints (a debugging ``print``) wrote into the same stdout, in this process and in the workers, so
that the report could not be read as JSON. Its output now goes to stderr while the datasets are
evaluated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from foreshock.cli import main

ROOT = Path(__file__).resolve().parents[2]

CHATTY = '''
class Chatty:
    def score_one(self, x):
        print("scoring", x)
        return abs(x["value"]) % 1.0
    def learn_one(self, x):
        pass
'''


def _corpus(root: Path) -> Path:
    for name in ("a", "b"):
        path = root / "data" / "g" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,value\n" + "".join(f"2020-01-01 00:{m:02d}:00,{m * 0.37}\n" for m in range(40)))
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps({
        "g/a.csv": [["2020-01-01 00:20:00", "2020-01-01 00:25:00"]], "g/b.csv": []}))
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "chatty.py").write_text(CHATTY)
    return _corpus(tmp_path / "nab"), tmp_path / "chatty.py"


def test_in_this_process_the_detectors_prints_go_to_stderr(capsys, corpus: tuple[Path, Path]) -> None:
    nab, detector = corpus
    code = main(["evaluate", str(nab), "--scalar-detector", f"{detector}:Chatty", "--json", "-", "--jobs", "1",
                 "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["nab_detail"]["series"] == 2
    assert "scoring {'value': 0.37}" in err


def test_in_worker_processes_the_detectors_prints_go_to_stderr(corpus: tuple[Path, Path]) -> None:
    nab, detector = corpus
    done = subprocess.run([sys.executable, "-c", "import sys; from foreshock.cli import main; sys.exit(main())",
                           "evaluate", str(nab), "--scalar-detector", f"{detector}:Chatty", "--json", "-",
                           "--jobs", "2", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nab_detail"]["series"] == 2
    # Two workers print into one stderr, and ``print`` writes its arguments one by one, so their lines
    # may interleave ("scoringscoring {...}"); each argument arrives whole.
    assert "{'value': 0.37}" in done.stderr and done.stderr.count("scoring") >= 40
