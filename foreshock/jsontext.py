"""Problems of a JSON document that Python's parser takes but JSON does not mean, each with where it is.

``json.loads`` keeps the last value of a key given twice without a word, reads ``NaN``, ``Infinity`` and
``-Infinity`` (not JSON), and reads a lone UTF-16 surrogate (``"\\ud800"``) into a string that cannot be
encoded as UTF-8. The API refuses such request bodies (:mod:`api.jsonbody`) and the ticket command line such
``--json`` content (:func:`alerts.cli.loads_unique`), both from what is found here.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["Loc", "body_problems", "duplicate_keys", "duplicated_key_counts", "read_stored", "replace_lone_surrogates"]

Loc = tuple[str | int, ...]
# a \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate (a pair becomes one character)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _NonFinite:
    """Where the document said NaN, Infinity or -Infinity (found again by identity in the parsed document)."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Duplicate:
    """A key given ``n`` times in one object."""

    def __init__(self, key: str, n: int) -> None:
        self.key, self.n = key, n

    def message(self) -> str:
        return (f"duplicated key {self.key!r}: given {self.n} times in one JSON object (only the last value would be "
                "used); give each key once")


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def body_problems(body: str | bytes) -> list[tuple[Loc, str]]:
    """``(path, message)`` of each duplicated key, non-finite number and string holding a lone surrogate in the
    JSON document ``body``, in document order; ``[]`` when there is none. Raises ``ValueError``
    (``json.JSONDecodeError``) when ``body`` is not JSON.

    >>> body_problems('{"note": "a", "note": "b", "n": NaN}')  # doctest: +NORMALIZE_WHITESPACE
    [(('note',), "duplicated key 'note': given 2 times in one JSON object (only the last value would be used);
      give each key once"),
     (('n',), 'Input should be a finite number: NaN is not a JSON number (JSON has no NaN or Infinity)')]
    >>> body_problems(r'{"a": ["\\ud800"], "b": "\\ud83d\\ude00"}')  # doctest: +ELLIPSIS
    [(('a', 0), "text with a lone UTF-16 surrogate ('\\\\ud800'), which is no character: ...")]
    >>> body_problems('{"a": 1, "b": {"a": 2}}')
    []
    """
    return [(loc, what if isinstance(what, str) else what.message()) for loc, what in _problems(body)]


def _problems(body: str | bytes) -> list[tuple[Loc, str | _Duplicate]]:
    """Each problem :func:`body_problems` words, a duplicated key as its :class:`_Duplicate`."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    found: list[tuple[dict, dict[str, int]]] = []
    constants: list[_NonFinite] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            counts: dict[str, int] = {}
            for k, _ in pairs:
                counts[k] = counts.get(k, 0) + 1
            found.append((obj, {k: n for k, n in counts.items() if n > 1}))
        return obj

    def constant(name: str) -> _NonFinite:
        constants.append(_NonFinite(name))
        return constants[-1]

    doc = json.loads(body, object_pairs_hook=pairs_hook, parse_constant=constant)
    surrogates = _SURROGATE_ESCAPE.search(raw) is not None
    if not (found or constants or surrogates):
        return []
    dups = {id(obj): (obj, counts) for obj, counts in found}
    out: list[tuple[Loc, str]] = []
    stack: list[tuple[Any, Loc]] = [(doc, ())]
    while stack:  # without recursion: the document may be nested as deeply as the parser allows
        node, path = stack.pop()
        if isinstance(node, dict):
            entry = dups.get(id(node))
            if entry is not None and entry[0] is node:
                out.extend(((*path, k) if not _lone_surrogate(k) else path, _Duplicate(k, n))
                           for k, n in entry[1].items())
            if surrogates:
                out.extend((path, f"a key with a lone UTF-16 surrogate ({k!r}), which is no character: it cannot "
                                  "be stored or sent back as UTF-8; send the text as UTF-8")
                           for k in node if _lone_surrogate(k))
            stack.extend((v, (*path, k)) for k, v in reversed(node.items()) if not _lone_surrogate(k))
        elif isinstance(node, list):
            stack.extend((v, (*path, j)) for j, v in reversed(list(enumerate(node))))
        elif isinstance(node, _NonFinite):
            out.append((path, f"Input should be a finite number: {node.name} is not a JSON number (JSON has no NaN "
                              "or Infinity)"))
        elif surrogates and isinstance(node, str) and _lone_surrogate(node):
            bad = next(ch for ch in node if "\ud800" <= ch <= "\udfff")
            out.append((path, f"text with a lone UTF-16 surrogate ({bad!r}), which is no character: it cannot be "
                              "stored or sent back as UTF-8; send the text as UTF-8"))
    # an object whose key was itself given twice is gone from the document: its outer key is reported
    return out


def duplicate_keys(body: str | bytes) -> list[Loc]:
    """The path of each key given more than once in one object of ``body`` (the key last).

    >>> duplicate_keys('{"scope": {"model": "A", "model": "B"}, "xs": [{"k": 1, "k": 2}]}')
    [('scope', 'model'), ('xs', 0, 'k')]
    """
    return [loc for loc, what in _problems(body) if isinstance(what, _Duplicate)]


def duplicated_key_counts(body: str | bytes) -> list[tuple[Loc, str, int]]:
    """``(path of the object, key, how many times)`` of each key given more than once in one object of ``body``.

    >>> duplicated_key_counts('{"a": [{"k": 1, "k": 2, "k": 3}]}')
    [(('a', 0), 'k', 3)]
    """
    return [(loc[:-1] if loc and loc[-1] == what.key else loc, what.key, what.n)
            for loc, what in _problems(body) if isinstance(what, _Duplicate)]


_LONE = re.compile("[\ud800-\udfff]")  # in a parsed str a surrogate pair is one character: every one left is lone


def replace_lone_surrogates(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with each lone surrogate in its strings and keys
    replaced by U+FFFD; the parts without one are returned as they are.

    >>> replace_lone_surrogates({"k\\udfff": ["x\\ud83d", 1, "\\U0001F600"]})
    {'k�': ['x�', 1, '😀']}
    """
    if isinstance(value, str):
        return _LONE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [replace_lone_surrogates(v) for v in value]
    return value


def read_stored(text: str | bytes) -> Any:
    """A JSON column's stored text, parsed, with each lone UTF-16 surrogate (in a key or a value) read as
    U+FFFD: the database engines' reader (:func:`foreshock.db.make_engine`).

    New text holding one is refused on input, but a row written before that check, or by another tool
    straight into the database, still holds one (``"\\ud800"``), and every reader of the row failed where it
    wrote it out (an answer of the API, a command's output, a report). What is stored is not changed; a
    document without a surrogate escape is parsed as it is, with no second pass.

    >>> read_stored('{"k\\\\udfff": ["x\\\\ud83d", "\\\\ud83d\\\\ude00"]}')
    {'k\ufffd': ['x\ufffd', '😀']}
    >>> read_stored('{"a": 1}')
    {'a': 1}
    """
    value = json.loads(text)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return replace_lone_surrogates(value) if _SURROGATE_ESCAPE.search(raw) else value

