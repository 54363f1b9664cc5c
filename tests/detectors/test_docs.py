"""The Python examples of ``docs/detectors.md`` run as written (each block on its own)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "detectors.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs(code: str, capsys) -> None:
    exec(compile(code, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})  # noqa: S102 - our own docs
    assert capsys.readouterr().out.strip()  # each example prints what it shows
