"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection, OWASP).

A unit in the field chooses its firmware string, and customers' names come from forms: a cell such as
``=HYPERLINK("http://evil.example/","Update")`` in an exported CSV runs when the file is opened in a
spreadsheet. Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with
a leading apostrophe, which spreadsheets take as "text" and do not show; numbers are left alone, and
reading a cell back (:func:`from_cell`) removes the apostrophe again, so export then import round-trips.

>>> to_cell('=HYPERLINK("http://evil.example/")'), to_cell("@SUM(A1)"), to_cell("-12.5"), to_cell(-3)
('\\'=HYPERLINK("http://evil.example/")', "'@SUM(A1)", '-12.5', -3)
>>> to_cell("ACME"), from_cell(to_cell("+49 30 1234")), from_cell("'quoted")
('ACME', '+49 30 1234', "'quoted")
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_cell", "to_cell"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_cell(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows as written (text starting like a formula gets a
    leading apostrophe; a number, or text that is one, is left alone)."""
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _number(value):
        return "'" + value
    return value


def from_cell(text: str) -> str:
    """A cell read back: the apostrophe :func:`to_cell` added is removed (only before a formula's first
    character, so other text that starts with an apostrophe stays as it is)."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(_TRIGGERS) and not _number(text[1:]):
        return text[1:]
    return text
