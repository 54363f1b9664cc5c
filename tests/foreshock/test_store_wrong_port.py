"""telemetry.url at the port of a server that is no HTTP server (the broker's 1883, PostgreSQL's 5432): it takes
the connection and closes it without an answer. The start said only "telemetry store not reachable at start
(influx1 ping: cannot reach http://…: RemoteProtocolError: Server disconnected without sending a response.)", and
/readyz the same, while everything went to the spool, for ever."""

from __future__ import annotations

import socket
import threading

import pytest

from foreshock.tsdb import StoreUnavailable
from foreshock.tsdb.influx1 import Influx1Store


@pytest.fixture
def hangs_up():
    """A TCP server that accepts each connection, reads what comes, and closes it without a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(4096)
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()
    t.join(5)


def test_a_server_that_hangs_up_on_http_is_named_as_perhaps_the_wrong_port(hangs_up):
    store = Influx1Store(hangs_up, "foreshock", timeout_s=5)
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.ping()
    finally:
        store.close()
    text = str(err.value)
    assert text.startswith(f"influx1 ping: cannot reach {hangs_up}: "), text
    assert ("the server there took the connection and closed it without an HTTP answer: is telemetry.url the "
            "store's HTTP address and port (InfluxDB's is 8086)?") in text, text
