"""A store that answers slowly or not at all (walk-through 2026-11-22: a proxy delaying every write 30 s)."""

from __future__ import annotations

import socket
import threading

import pytest

from foreshock.tsdb.base import StoreUnavailable
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.influx2 import Influx2Store
from foreshock.tsdb.retry import Retry


@pytest.fixture
def silent_server():
    """Accepts connections and reads, never answers (an overloaded store behind a proxy)."""
    listener = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []
    closed = threading.Event()

    def accept() -> None:
        while not closed.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conns.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    closed.set()
    listener.close()
    for c in conns:
        c.close()


@pytest.mark.parametrize("backend", ["influx1", "influx2"])
def test_a_store_that_does_not_answer_in_time_is_named_as_that_with_the_setting(silent_server, backend):
    """It said `cannot reach http://…: ReadTimeout: timed out`: the store had been reached (it took the
    request), it did not answer within telemetry.timeout_s, the setting to look at."""
    from foreshock.tsdb.base import Point

    retry = Retry(max_retries=0)
    if backend == "influx1":
        store = Influx1Store(silent_server, "db", timeout_s=0.5, retry=retry)
    else:
        store = Influx2Store(silent_server, token="t", org="o", bucket="b", timeout_s=0.5, retry=retry)
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.write([Point("telemetry", {"device": "P-1"}, {"v": 1.0}, 1)])
    finally:
        store.close()
    text = str(err.value)
    assert "cannot reach" not in text
    assert f"no answer from {silent_server} within 0.5 s (telemetry.timeout_s)" in text
