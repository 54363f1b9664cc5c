"""Log lines for people (``text``) or for log shippers (``json``: one object per line), chosen by the
setting ``log_format``.

>>> import logging
>>> rec = logging.LogRecord("foreshock.db", logging.INFO, __file__, 1, "database %s upgraded", ("x",), None)
>>> rec.created = 1795305600.25
>>> JsonFormatter().format(rec)
'{"ts": "2026-11-22T00:00:00.250Z", "level": "INFO", "logger": "foreshock.db", "message": "database x upgraded"}'
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["TEXT_FORMAT", "JsonFormatter", "log_handler"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message"}`` and, for an exception, ``"exc"`` (its traceback), on one line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out = {"ts": ts, "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def log_handler(log_format: str) -> logging.Handler:
    """A handler writing to stderr in ``log_format`` (``text`` or ``json``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler
