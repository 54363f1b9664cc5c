"""JSON request bodies that Python's parser takes but JSON does not mean are refused, naming where.

FastAPI and pydantic parse bodies with ``json.loads``, which

- keeps the last value of a key given twice without a word: ``{"note": "a", "note": "b"}`` was taken as
  ``{"note": "b"}``, so a client that built its body by concatenation, or a person who typed a field twice,
  got an answer for something they did not mean;
- reads ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON: stored in a free-form field (an 8D
  discipline) a NaN came back as ``null``;
- reads a lone UTF-16 surrogate (``"\\ud800"``) into a string that cannot be encoded as UTF-8: stored in a
  free-form field, it made every later answer that carried it fail ("Error serializing to JSON"), so one
  request made a ticket, and the whole ticket list, unreadable for everyone.

:func:`body_problems` finds each of these with where it is; :func:`refuse_bad_json` (installed once for every
``/api/v1`` route by :func:`api.routes.api_router`) answers them with 422, one entry in ``errors`` each.
"""

from __future__ import annotations

import email.message
import json
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from api.deps import CurrentToken

__all__ = ["body_problems", "check_body", "duplicate_keys", "is_json", "refuse_bad_json"]

Loc = tuple[str | int, ...]
# a \uD800-\uDFFF escape: only then can a parsed string hold a lone surrogate (a pair becomes one character)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _NonFinite:
    """Where the document said NaN, Infinity or -Infinity (found again by identity in the parsed document)."""

    def __init__(self, name: str) -> None:
        self.name = name


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
                out.extend(((*path, k) if not _lone_surrogate(k) else path,
                            f"duplicated key {k!r}: given {n} times in one JSON object (only the last value would be "
                            "used); give each key once") for k, n in entry[1].items())
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
    return [loc for loc, msg in body_problems(body) if msg.startswith("duplicated key")]


def check_body(body: str | bytes) -> None:
    """Raise a 422 (:class:`RequestValidationError`) naming every problem :func:`body_problems` finds."""
    try:
        problems = body_problems(body)
    except (ValueError, RecursionError):
        return  # not JSON: the route's own parsing says so
    if problems:
        raise RequestValidationError([{"type": "json_invalid_for_python", "loc": ("body", *loc), "msg": msg,
                                       "input": None} for loc, msg in problems])


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this ``Content-Type`` as JSON (``application/json`` or ``…+json``).

    >>> is_json("application/json; charset=utf-8"), is_json("application/merge-patch+json"), is_json("text/csv")
    (True, True, False)
    """
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def refuse_bad_json(request: Request, _: CurrentToken) -> None:
    """422 naming each problem of a route's JSON body (:func:`body_problems`). FastAPI has read (and cached) the
    body before the dependencies run; this runs after the token is checked, like
    :func:`api.deps.refuse_unknown_query`."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or not is_json(request.headers.get("content-type")):
        return
    body = await request.body()
    if body:
        check_body(body)
