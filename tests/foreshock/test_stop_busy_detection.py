"""``Pipeline.stop()`` with the detection stage busy with a batch: the stage is closed only once no
batch runs in it, and the stop keeps its bound when a batch outlasts it.

The stop closed the stage (its last state save) right after ingest's stop: with a batch still in the
detectors, the close was entered beside it and waited for it as long as it took, past the bound.
"""

from __future__ import annotations

import threading
import time

from types import SimpleNamespace
from typing import Any

from foreshock.service import Pipeline, PipelineOptions
from foreshock.settings import load_settings
from tests.ingest.conftest import MIN_WAIT_S, wait_until


def _message(device_id: str) -> Any:
    """A message as the (patched) detectors see it: only its unit and kind are read."""
    return SimpleNamespace(device_id=device_id, kind="telemetry", received_at=time.time())


class _Busy:
    """The pipeline's detection stage, made to hold each batch (inside its lock, as slow detectors do)
    until :attr:`release` is set; records whether its ``close`` was entered while a batch ran."""

    def __init__(self, pipe: Pipeline) -> None:
        self.release = threading.Event()
        self.in_batch = threading.Event()
        self.batches = 0
        self.closed_beside_a_batch: list[bool] = []
        stage = pipe.detection

        def one(msg, points) -> None:
            self.in_batch.set()
            if not self.release.wait(5 * MIN_WAIT_S):
                raise AssertionError("the test never released the batch")

        real_on_batch, real_close = stage.on_batch, stage.close

        def on_batch(messages) -> None:
            self.batches += 1
            try:
                real_on_batch(messages)
            finally:
                self.in_batch.clear()

        def close() -> None:
            self.closed_beside_a_batch.append(self.in_batch.is_set())
            real_close()

        stage._one = one
        stage.on_batch = on_batch
        stage.close = close
        self.hook = pipe.ingest.on_batch  # what ingest's worker calls

    def start_batch(self, name: str = "ingest-worker") -> threading.Thread:
        t = threading.Thread(target=self.hook, args=([_message("B-1")],), name=name, daemon=True)
        t.start()
        wait_until(self.in_batch.is_set, what="the batch to be in the detectors")
        return t


def _pipeline(tmp_path) -> Pipeline:
    return Pipeline(load_settings(data_dir=tmp_path), PipelineOptions(api=False))


def test_the_stop_closes_the_detection_stage_only_after_the_batch_in_progress(tmp_path):
    pipe = _pipeline(tmp_path)
    busy = _Busy(pipe)
    worker = busy.start_batch()
    stopper = threading.Thread(target=pipe.stop, kwargs={"timeout_s": 20.0}, daemon=True)
    stopper.start()
    gate = getattr(pipe, "_detection_gate", None)
    # released once the stop is at the detection stage: it refuses new batches, or (before) entered its close
    wait_until(lambda: busy.closed_beside_a_batch or (gate is not None and gate.closing), what="the stop to close "
               "the detection stage")
    busy.release.set()
    stopper.join(MIN_WAIT_S)
    worker.join(MIN_WAIT_S)
    assert not stopper.is_alive()
    assert busy.closed_beside_a_batch == [False]  # closed once, after the batch
    assert pipe.still_busy == []


def test_a_batch_outlasting_the_stops_bound_is_named_and_not_closed_under(tmp_path, caplog):
    pipe = _pipeline(tmp_path)
    busy = _Busy(pipe)
    worker = busy.start_batch()
    stopper = threading.Thread(target=pipe.stop, kwargs={"timeout_s": 4.0}, daemon=True)
    stopper.start()
    try:
        # bounded: the stop ends while the batch still runs (before, it waited in the stage's close)
        wait_until(lambda: not stopper.is_alive(), MIN_WAIT_S, what="the stop to end with the batch running")
        assert worker.is_alive()
        assert busy.closed_beside_a_batch == []  # the stage was not closed beside it
        assert len(pipe.still_busy) == 1 and "thread ingest-worker since" in pipe.still_busy[0]
        assert "the detection stage is still busy with a batch (thread ingest-worker since" in caplog.text
        busy.hook([_message("B-1")])  # a batch handed in after the stop is refused, not assessed
        assert busy.batches == 1
    finally:
        busy.release.set()
        worker.join(MIN_WAIT_S)
        pipe.store.close()
        pipe.engine.dispose()
