"""Local receivers for notification tests: an HTTP webhook sink and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WAIT_S = 60.0  # generous bound on waiting for a delivery (a loaded CI machine); returns once it is there


class WebhookSink:
    """Collects POSTs; answers the next ``fail_next`` requests with HTTP 503."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.received = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.received:
                    if sink.fail_next > 0:
                        sink.fail_next -= 1
                        code = 503
                    else:
                        code = 200
                        sink.requests.append((dict(self.headers.items()), body))
                        sink.received.notify_all()
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = WAIT_S) -> bool:
        with self.received:
            return self.received.wait_for(lambda: len(self.requests) >= n, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """An aiosmtpd server on a free port that keeps every message; answers the next ``fail_next`` with SMTP 451
    (counted in ``refused``)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.fail_next = 0
        self.refused = 0
        self.received = threading.Condition()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes

                with sink.received:
                    if sink.fail_next > 0:  # the mail server is down for a while: a temporary error
                        sink.fail_next -= 1
                        sink.refused += 1
                        return "451 4.3.0 Mail server temporarily unavailable"
                    sink.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
                    sink.received.notify_all()
                return "250 OK"

        # aiosmtpd needs a concrete port to check it is up: one chosen free may be taken by another
        # process before aiosmtpd binds it, so a failed start is tried again on another port. It may
        # take more than aiosmtpd's 5 s to come up on a loaded machine.
        for attempt in range(3):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, ready_timeout=WAIT_S)
            try:
                self.controller.start()
                break
            except OSError:
                if attempt == 2:
                    raise

    def wait_for(self, n: int, timeout: float = WAIT_S) -> bool:
        with self.received:
            return self.received.wait_for(lambda: len(self.messages) >= n, timeout)

    def close(self) -> None:
        self.controller.stop()
