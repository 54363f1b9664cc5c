"""A store, or a proxy in front of it, that refuses requests over a size (HTTP 413 Payload Too Large).

Walk-through 2026-11-22: nginx's default `client_max_body_size` is 1 MiB; one telemetry message may be
up to `ingest.max_payload_bytes` (4 MiB), a unit's whole offline backlog in one message."""

from __future__ import annotations

import http.server
import logging
import threading

import pytest

from foreshock.tsdb.base import Point
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.retry import Retry
from ingest.metrics import IngestMetrics
from ingest.spool import Spool
from ingest.writer import Outcome, StoreWriter


@pytest.fixture
def limited_store():
    """An HTTP server that answers 413 (as nginx does) to bodies over 300 bytes and 204 to the rest."""
    lines: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if len(body) > 300:
                page = b"<html><head><title>413 Request Entity Too Large</title></head></html>"
                self.send_response(413)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            lines.extend(line for line in body.split(b"\n") if line)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = Influx1Store(f"http://127.0.0.1:{server.server_address[1]}", "db", retry=Retry(max_retries=0))
    yield store, lines
    store.close()
    server.shutdown()
    server.server_close()


def _message(device: str, n: int) -> list[Point]:
    return [Point("telemetry", {"device": device}, {"load": float(i)}, 1_700_000_000_000 + i) for i in range(n)]


def test_a_message_too_large_for_one_request_is_written_in_parts_not_dead_lettered(limited_store, tmp_path,
                                                                                   caplog):
    """One message whose points exceed the limit was dead-lettered as store_rejected (HTTP 413) and
    acknowledged: its payload kept only up to ingest.dead_letter_payload_bytes (4 KiB), the rest gone.
    Points are independent: they are written in parts, and the log names the limit once."""
    store, lines = limited_store
    writer = StoreWriter(store, Spool(tmp_path), IngestMetrics())
    groups = [_message("P-1", 2), _message("P-2", 40), _message("P-3", 2)]
    with caplog.at_level(logging.WARNING, logger="ingest.writer"):
        outcome, refused = writer.write(groups, threading.Event())
    assert (outcome, refused) == (Outcome.WRITTEN, {})
    assert len(lines) == 44 and len(set(lines)) == 44
    assert "HTTP 413" in caplog.text and "telemetry.batch_size" in caplog.text
