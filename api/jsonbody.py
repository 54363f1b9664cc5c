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

:func:`foreshock.jsontext.body_problems` finds each of these with where it is; :func:`refuse_bad_json` (installed once for every
``/api/v1`` route by :func:`api.routes.api_router`) answers them with 422, one entry in ``errors`` each.
"""

from __future__ import annotations

import email.message

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from api.deps import CurrentToken
from foreshock.jsontext import body_problems, duplicate_keys

__all__ = ["body_problems", "check_body", "duplicate_keys", "is_json", "refuse_bad_json"]


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
