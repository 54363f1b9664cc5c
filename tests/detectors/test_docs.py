"""The Python examples of ``docs/detectors.md`` run as written (each block on its own), and the
example detector file (a block starting ``# my_detectors.py``) is scored as the page shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from foreshock.cli import main
from tests.evaluation.test_harness import needs_data, nab_slice  # noqa: F401 - the fixture

DOC = Path(__file__).resolve().parents[2] / "docs" / "detectors.md"
ALL_BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
FILES = [b for b in ALL_BLOCKS if b.startswith("# my_detectors.py\n")]
BLOCKS = [b for b in ALL_BLOCKS if b not in FILES]


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) >= 2 and len(FILES) == 1


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs(code: str, capsys) -> None:
    exec(compile(code, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})  # noqa: S102 - our own docs
    assert capsys.readouterr().out.strip()  # each example prints what it shows


@needs_data
@pytest.mark.parametrize("name", ["ZScore", "scaled_hst"])
def test_the_example_detector_file_is_scored_on_nab(name: str, capsys, nab_slice: Path, tmp_path: Path,  # noqa: F811
                                                     monkeypatch) -> None:
    (tmp_path / "my_detectors.py").write_text(FILES[0], encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # as on the page: the file in the folder the command is run from
    code = main(["evaluate", str(nab_slice), "--scalar-detector", f"my_detectors.py:{name}",
                 "--json", "mine.json", "--jobs", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"detector: my_detectors.py:{name}" in out
    report = json.loads((tmp_path / "mine.json").read_text())
    assert report["nab_detail"]["detector"] == f"my_detectors.py:{name}"
    if name == "ZScore":  # on four series HalfSpaceTrees, even scaled, finds nothing: it needs more data
        assert report["nab"]["standard"] > 0
