"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection, OWASP).

A unit in the field chooses its firmware string, and customers' names come from forms: a cell such as
``=HYPERLINK("http://evil.example/","Update")`` in an exported CSV runs when the file is opened in a
spreadsheet. Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with
a leading apostrophe, which spreadsheets take as "text" and do not show; numbers are left alone, and
reading a cell back (:func:`from_cell`) removes the apostrophe again, so export then import round-trips.
Text that already looks like such a cell (apostrophes, then a formula's first character) gets one more
apostrophe, so that it, too, reads back as written.

>>> to_cell('=HYPERLINK("http://evil.example/")'), to_cell("@SUM(A1)"), to_cell("-12.5"), to_cell(-3)
('\\'=HYPERLINK("http://evil.example/")', "'@SUM(A1)", '-12.5', -3)
>>> to_cell("ACME"), from_cell(to_cell("+49 30 1234")), from_cell("'quoted")
('ACME', '+49 30 1234', "'quoted")
>>> to_cell("'=1+1"), from_cell(to_cell("'=1+1"))
("''=1+1", "'=1+1")
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_cell", "is_number", "to_cell"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_number(text: str) -> bool:
    """Whether a cell's text reads as a number (``float`` takes it: ``-12.5``, ``1e3``, ``nan``)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _formula_like(text: str) -> bool:
    """Whether ``text``, after any leading apostrophes, starts like a formula and is not a number."""
    bare = text.lstrip("'")
    return bare.startswith(_TRIGGERS) and not is_number(bare)


def to_cell(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows as written (text starting like a formula, after
    any apostrophes of its own, gets a leading apostrophe; a number, or text that is one, is left alone)."""
    if isinstance(value, str) and _formula_like(value):
        return "'" + value
    return value


def from_cell(text: str) -> str:
    """A cell read back: the apostrophe :func:`to_cell` added is removed (only where apostrophes are
    followed by a formula's first character, so other text that starts with one stays as it is)."""
    if text.startswith("'") and _formula_like(text):
        return text[1:]
    return text
