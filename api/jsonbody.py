"""JSON request bodies whose objects give a key more than once are refused, naming the key.

Python's ``json.loads`` (which FastAPI and pydantic parse bodies with) keeps the last value of a duplicated
key without a word: ``{"note": "a", "note": "b"}`` was taken as ``{"note": "b"}``, so a client that built its
body by concatenation, or a person who typed a field twice, got an answer for something they did not mean.
:func:`duplicate_keys` finds every such key with where it is; :func:`refuse_duplicate_keys` (installed once
for every ``/api/v1`` route by :func:`api.routes.api_router`) answers them with 422, one entry in ``errors``
per duplicated key.
"""

from __future__ import annotations

import email.message
import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from api.deps import CurrentToken

__all__ = ["check_unique_keys", "duplicate_keys", "is_json", "refuse_duplicate_keys"]


def duplicate_keys(body: str | bytes) -> list[tuple[tuple[str | int, ...], str, int]]:
    """``(path, key, times)`` of each key given more than once in one object of the JSON document ``body``, in
    document order (the path leads to the object: keys and list indexes); ``[]`` when there is none.
    Raises ``ValueError`` (``json.JSONDecodeError``) when ``body`` is not JSON.

    >>> duplicate_keys('{"note": "a", "note": "b"}')
    [((), 'note', 2)]
    >>> duplicate_keys('{"scope": {"model": "A", "model": "B", "model": "C"}, "xs": [{"k": 1, "k": 2}]}')
    [(('scope',), 'model', 3), (('xs', 0), 'k', 2)]
    >>> duplicate_keys('{"a": 1, "b": {"a": 2}}')
    []
    """
    found: list[tuple[dict, dict[str, int]]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            counts: dict[str, int] = {}
            for k, _ in pairs:
                counts[k] = counts.get(k, 0) + 1
            found.append((obj, {k: n for k, n in counts.items() if n > 1}))
        return obj

    doc = json.loads(body, object_pairs_hook=pairs_hook)
    if not found:
        return []
    where = {id(obj): i for i, (obj, _) in enumerate(found)}
    out: list[tuple[tuple[str | int, ...], str, int]] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack:  # without recursion: the document may be nested as deeply as the parser allows
        node, path = stack.pop()
        if isinstance(node, dict):
            i = where.get(id(node))
            if i is not None and found[i][0] is node:
                out.extend((path, k, n) for k, n in found[i][1].items())
            stack.extend((v, (*path, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, (*path, j)) for j, v in reversed(list(enumerate(node))))
    # an object whose key was itself given twice is gone from the document: its outer key is reported
    return out


def check_unique_keys(body: str | bytes) -> None:
    """Raise a 422 (:class:`RequestValidationError`) naming every key given more than once in ``body``."""
    try:
        dups = duplicate_keys(body)
    except (ValueError, RecursionError):
        return  # not JSON: the route's own parsing says so
    if dups:
        raise RequestValidationError([
            {"type": "duplicate_key", "loc": ("body", *path, key), "input": None,
             "msg": f"duplicated key {key!r}: given {n} times in one JSON object (only the last value would be "
                    "used); give each key once"}
            for path, key, n in dups])


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


async def refuse_duplicate_keys(request: Request, _: CurrentToken) -> None:
    """422 naming each duplicated key of a route's JSON body. FastAPI has read (and cached) the body before
    the dependencies run; this runs after the token is checked, like :func:`api.deps.refuse_unknown_query`."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None or not is_json(request.headers.get("content-type")):
        return
    body = await request.body()
    if body:
        check_unique_keys(body)
