"""What the README and docs/ point a reader at exists: the tests they name, the files and anchors they link.

docs/reliability.md names the test behind each row, a bare ``::name`` meaning a test of the file
named last. Two rows added in the middle of its bad-input table made the ``::`` names after them
point into tests/ingest/test_protocol.py, which has neither test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEST_REF = re.compile(r"`((?:tests|bench)/[\w/.-]+\.py)(?:::(\w+))?`|`::(\w+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#+\s+(.*)$", re.M)


def _named_tests(doc: Path) -> list[tuple[int, str, str | None]]:
    """(line, file, test) for every test or script the document names; ``::name`` takes the last file."""
    out, last = [], None
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        for m in TEST_REF.finditer(line):
            path, name, continued = m.groups()
            if path:
                last = path
            out.append((number, path or last, name or continued))
    return out


def _anchors(doc: Path) -> set[str]:
    """GitHub's anchors of the document's headings."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in HEADING.findall(doc.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_test_a_document_names_exists(doc):
    missing = []
    for line, path, name in _named_tests(doc):
        if path is None or not (ROOT / path).is_file():
            missing.append(f"line {line}: no file {path}")
        elif name and not re.search(rf"^(async )?def {name}\b", (ROOT / path).read_text(encoding="utf-8"), re.M):
            missing.append(f"line {line}: {path} has no {name}")
    assert missing == [], f"{doc.name} names tests that do not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_of_a_document_leads_somewhere(doc):
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path) if path else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == [], f"{doc.name} links to what does not exist"
