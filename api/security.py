"""Security headers on every response (pure ASGI middleware, so streaming responses are untouched), and
the request body limits.

Every ``/api/`` response also says ``Cache-Control: no-store``: without it the browser kept the JSON it
fetched (customers' names, e-mail addresses, complaint text, a new token's secret) in its disk cache,
where it outlived *Log out* and the closed tab on a shared service-team computer.

Bodies are read (and JSON parsed) before the bearer token is checked, so without a limit anyone who
can reach the port could make the server hold gigabytes. Every body is capped at the setting
``api.max_body_bytes`` (1 MiB); the CSV import (``api.max_import_body_bytes``, 10 MB) and the
complaint routes (files as base64, raw emails: ``api.max_complaint_body_bytes``, 10 MiB, or more
when the attachment limits need it) have their own. A body over its limit is refused with 413
before it is read (``Content-Length``) or as soon as it passes the limit (chunked).

>>> from alerts.config import AlertConfig
>>> complaint_body_bytes(AlertConfig(), floor=10 * 1024 * 1024) == 25 * 1024 * 1024 * 4 // 3 + 1024 * 1024
True
>>> complaint_body_bytes(AlertConfig(complaint_attachments_max_total_bytes=1024), floor=20_000_000)
20000000
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "DOCS_CSP", "HEADERS", "BodyLimit", "SecurityHeaders", "complaint_body_bytes", "docs_csp"]


def complaint_body_bytes(config: Any, *, floor: int) -> int:
    """The body limit of the complaint routes: ``floor`` (``api.max_complaint_body_bytes``), or all attachments
    as base64 (a third larger) plus 1 MiB of the rest when that is more."""
    return max(floor, config.complaint_attachments_max_total_bytes * 4 // 3 + 1024 * 1024)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
# /docs (Swagger UI, vendored in static/vendor/swagger-ui): this server only, like the dashboard. Its pages
# start with one inline script each, allowed by its hash (docs_csp); any other /docs path runs none.
DOCS_CSP = CSP
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def docs_csp(html: str) -> str:
    """:data:`DOCS_CSP` that also lets ``html``'s own inline scripts run, each allowed by its SHA-256 (and no
    other inline script: ``'unsafe-inline'`` would let script slipped into the page run as well).

    >>> docs_csp("<script src='/a.js'></script><script>go()</script>").split("; ")[1]
    "script-src 'self' 'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"
    """
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                     for s in _INLINE_SCRIPT.findall(html))
    return DOCS_CSP.replace("script-src 'self'", f"script-src 'self'{hashes}", 1)


HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = {b"content-security-policy": (DOCS_CSP if path.startswith(("/docs", "/redoc")) else CSP).encode()}
        if path.startswith("/api/"):  # data and secrets: never kept by a browser or a proxy
            extra[b"cache-control"] = b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for k, v in {**HEADERS, **extra}.items():
                    if k not in present:
                        headers.append((k, v))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """413 for a request body over its limit: ``paths`` maps a path (and everything below it) to its own,
    a number or a function that reads it from the running configuration; other paths get ``default``."""

    def __init__(self, app: ASGIApp, *, default: int, paths: Mapping[str, int | Callable[[], int]]) -> None:
        self.app = app
        self.default = default
        self.paths = dict(paths)

    def limit(self, path: str) -> int:
        """The limit of ``path``.

        >>> b = BodyLimit(None, default=10, paths={"/api/v1/complaints": lambda: 99, "/api/v1/units/import": 5})
        >>> b.limit("/api/v1/complaints"), b.limit("/api/v1/complaints/email"), b.limit("/api/v1/complaintsx")
        (99, 99, 10)
        >>> b.limit("/api/v1/units/import")
        5
        """
        for prefix, n in self.paths.items():
            if path == prefix or path.startswith(prefix + "/"):
                return n() if callable(n) else n
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        where = f"{scope['method']} {scope['path']}"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:  # refused before a byte of it is read
            body = json.dumps({"detail": f"request body of {int(declared)} bytes is over the limit of {limit} bytes "
                                         f"for {where}"}).encode()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                    (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # chunked, or more than Content-Length said: stop reading here
                    raise HTTPException(413, f"request body is over the limit of {limit} bytes for {where}")
            return message

        await self.app(scope, receive=counted, send=send)
