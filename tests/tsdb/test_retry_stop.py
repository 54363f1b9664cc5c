"""A stop requested while the store is down ends its retries (found in the hostile-operations
walk-through: the store's retries went on after the stop, up to ``telemetry.max_retry_time_s``,
and the service's shutdown bound ran out). No timed assertions: the tests count the tries made
after the stop and check that the wait between tries was ended by the stop event."""

from __future__ import annotations

import threading

import pytest

from foreshock.tsdb.base import Point, StoreUnavailable
from foreshock.tsdb.retry import Retry
from ingest.metrics import IngestMetrics
from ingest.spool import Spool
from ingest.writer import Outcome, StoreWriter


class _DownStore:
    """A store that is down; its writes go through the store's own ``Retry`` as the real stores' do."""

    def __init__(self, retry: Retry, on_call=None) -> None:
        self.retry = retry
        self.calls = 0
        self.on_call = on_call

    def ping(self) -> None:
        raise StoreUnavailable("down")

    def write(self, points) -> None:
        def attempt():
            self.calls += 1
            if self.on_call is not None:
                self.on_call(self.calls)
            raise StoreUnavailable("connection refused")
        self.retry.call(attempt, "write")


def test_a_stop_during_a_store_outage_makes_no_more_tries_and_the_batch_is_spooled(tmp_path):
    stopping = threading.Event()
    sleeps: list[float] = []
    # the stop is requested while the first try is under way; the old code went on with 5 retries
    store = _DownStore(Retry(max_retries=5, max_retry_time_s=600, sleep=sleeps.append),
                       on_call=lambda n: stopping.set())
    spool = Spool(tmp_path / "spool")
    writer = StoreWriter(store, spool, IngestMetrics(), stopping=stopping)
    batch = [[Point("telemetry", {"device": "P-1"}, {"v": 1.0}, 1_700_000_000_000)]]

    outcome, refused = writer.write(batch, threading.Event())

    assert store.calls == 1 and sleeps == []  # no retry, no wait after the stop
    assert outcome is Outcome.SPOOLED and refused == {}  # nothing lost: the next start replays it
    assert not spool.empty
    spool.close()


def test_a_stop_requested_during_the_wait_between_tries_ends_the_wait(tmp_path, monkeypatch):
    stopping = threading.Event()
    monkeypatch.setattr("foreshock.tsdb.retry.random.uniform", lambda a, b: b)  # the longest wait: 600 s
    first_try_done = threading.Event()
    store = _DownStore(Retry(max_retries=5, base_s=600, max_delay_s=600, max_retry_time_s=3600),
                       on_call=lambda n: first_try_done.set())
    spool = Spool(tmp_path / "spool")
    writer = StoreWriter(store, spool, IngestMetrics(), stopping=stopping)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(
        writer.write([[Point("telemetry", {"device": "P-1"}, {"v": 1.0}, 1)]], threading.Event())), daemon=True)
    worker.start()
    assert first_try_done.wait(60), "the first try was not made"
    stopping.set()
    worker.join(120)  # a generous bound for a loaded machine; without the fix the wait is 600 s
    assert not worker.is_alive(), "the wait between tries was not ended by the stop"
    assert store.calls == 1 and result[0][0] is Outcome.SPOOLED
    spool.close()


def test_without_a_stop_the_retries_are_unchanged():
    calls: list[int] = []
    sleeps: list[float] = []

    def down():
        calls.append(1)
        raise StoreUnavailable("down")

    with pytest.raises(StoreUnavailable):
        Retry(max_retries=3, base_s=0.001, sleep=sleeps.append).call(down)
    assert len(calls) == 4 and len(sleeps) == 3
