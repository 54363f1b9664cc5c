"""The API's JSON answers, which a lone UTF-16 surrogate in a stored row cannot break.

New text holding a lone surrogate (``"\\ud800"``, no character) is refused on input
(:mod:`foreshock.jsontext`), but a row written before that check, or by another tool straight into the
database, still holds one in its JSON columns (a ticket's comments or 8D, an audit line, an alert's detail, a
unit's saved assessment). UTF-8 cannot encode it, and the whole answer failed: one such ticket left the
ticket list unreadable for everyone. :class:`JSONText` writes each lone surrogate as U+FFFD (the replacement
character) instead, only in an answer that holds one, and leaves every other character as it is; what is
stored is not changed.

>>> import json
>>> json.loads(JSONText({"text": "a \\ud800 b", "ok": "\\U0001F600", "nan": float("nan")}).body)
{'text': 'a � b', 'ok': '😀', 'nan': None}
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi.responses import JSONResponse
from pydantic_core import PydanticSerializationError, to_json

__all__ = ["JSONText", "readable", "replace_lone_surrogates"]

log = logging.getLogger(__name__)
# in a Python str a surrogate pair is one character (U+10000 and up): every surrogate left is a lone one
_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with each lone surrogate in its strings and keys
    replaced by U+FFFD; the parts without one are returned as they are.

    >>> replace_lone_surrogates({"k\\udfff": ["x\\ud83d", 1, "\\U0001F600"]})
    {'k�': ['x�', 1, '😀']}
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [replace_lone_surrogates(v) for v in value]
    return value


def readable(value: Any) -> Any:
    """``value`` itself when it can be written as JSON, else a copy with each lone surrogate replaced by U+FFFD.

    For a row's free-form JSON (a ticket's 8D, whose keys people wrote) given to a response model: a lone
    surrogate in a *key* fails FastAPI's serialization before :class:`JSONText` sees the answer. The check is
    one pass of pydantic's encoder (microseconds for a ticket); only a row holding one is copied.

    >>> row = {"D3": {"why\\udfff": "x"}}
    >>> readable(row)
    {'D3': {'why�': 'x'}}
    >>> clean = {"D3": {"why": "\\U0001F600"}}
    >>> readable(clean) is clean
    True
    """
    try:
        to_json(value, inf_nan_mode="null", serialize_unknown=True)
    except (PydanticSerializationError, UnicodeEncodeError):
        return replace_lone_surrogates(value)
    return value


class JSONText(JSONResponse):
    """The app's default response class: JSON as FastAPI writes it for a response model (pydantic's encoder,
    NaN and Infinity as null), but a lone surrogate is written as U+FFFD rather than failing the answer."""

    def render(self, content: Any) -> bytes:
        try:
            return to_json(content, inf_nan_mode="null")
        except PydanticSerializationError as exc:
            if "surrogates not allowed" not in str(exc):
                raise
        log.warning("an answer held text with a lone UTF-16 surrogate (a row written before such text was refused, "
                    "or by another tool): sent as U+FFFD")
        return to_json(replace_lone_surrogates(content), inf_nan_mode="null")
