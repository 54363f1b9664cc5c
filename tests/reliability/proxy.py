"""A TCP proxy the tests can cut and restore: a real network fault between Foreshock and a server."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target``. :meth:`cut` drops every connection and answers new
    ones by closing them (the server looks down); :meth:`restore` forwards again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


@contextmanager
def postgres_through_a_proxy() -> Iterator[tuple[Any, TcpProxy]]:
    """A fresh PostgreSQL database of this test and a :class:`TcpProxy` in front of its server:
    ``(url, proxy)``, ``url`` the database's as parsed (SQLAlchemy's ``URL``: its host and port are the
    server's; ``url.set(port=proxy.port)`` goes through the proxy). Skipped without a server; the
    proxy is closed and the database dropped afterwards."""
    import pytest
    from sqlalchemy.engine import make_url

    from tests.servers import create_postgres_database

    made = create_postgres_database()
    if isinstance(made, str):
        pytest.skip(made)
    url, drop = made
    parsed = make_url(url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    try:
        yield parsed, proxy
    finally:
        proxy.close()
        drop()
