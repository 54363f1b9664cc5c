"""Fixtures of the telemetry-store tests: a recorded-response HTTP server (the real servers come
from tests/tsdb_servers.py through tests/conftest.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


class Recorded:
    """A local HTTP server answering every request with one canned response, recording the requests."""

    def __init__(self, status: int, body: bytes, content_type: str = "text/csv; charset=utf-8") -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append({
                    "method": self.command, "path": urlsplit(self.path).path,
                    "query": parse_qs(urlsplit(self.path).query), "body": self.rfile.read(length),
                    "auth": self.headers.get("Authorization"),
                })
                self.send_response(outer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.status, self.body = status, body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorded():
    servers = []

    def make(status: int, body: bytes, **kw) -> Recorded:
        servers.append(Recorded(status, body, **kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


