"""The API's JSON answers, which a lone UTF-16 surrogate in a stored row cannot break.

New text holding a lone surrogate (``"\\ud800"``, no character) is refused on input
(:mod:`foreshock.jsontext`), but a row written before that check, or by another tool straight into the
database, still holds one in its JSON columns (a ticket's comments or 8D, an audit line, an alert's detail, a
unit's saved assessment). UTF-8 cannot encode it, and the whole answer failed: one such ticket left the
ticket list unreadable for everyone. The database's reader gives JSON columns with U+FFFD in its place
(:func:`foreshock.jsontext.read_stored`, keys included); :class:`JSONText` does the same for any answer that
still holds one, and leaves every other character as it is; what is stored is not changed.

>>> import json
>>> json.loads(JSONText({"text": "a \\ud800 b", "ok": "\\U0001F600", "nan": float("nan")}).body)
{'text': 'a � b', 'ok': '😀', 'nan': None}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse
from pydantic_core import PydanticSerializationError, to_json

from foreshock.jsontext import replace_lone_surrogates

__all__ = ["JSONText"]

log = logging.getLogger(__name__)


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
