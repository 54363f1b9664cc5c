"""The soak fixes (docs/reliability.md, "Load and soak"), each shown by behaviour, not by timing.

- detector state is serialised taking the detection lock for at most ``_COLLECT_CHUNK`` units at a
  time: another thread's batch runs between two chunks of one flush;
- the pipeline's tick loop writes every unit's last-seen time in one transaction, so detection
  (``Registry.mark_seen``) never writes a single unit's time after the unit's first message.
"""

from __future__ import annotations

import threading
import types

import pytest
from sqlalchemy import event

import foreshock.service as service_mod
from devices.protocol import ParsedMessage, TelemetryRecord
from foreshock.db import make_engine, migrate, session_factory
from foreshock.detection import _COLLECT_CHUNK, DetectionStage
from ingest.types import IngestedMessage

T0_MS = 1_795_000_000_000


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def tel(device_id: str, seq: int, ts_ms: int, received_at: float | None = None) -> IngestedMessage:
    parsed = ParsedMessage(device_id, "telemetry", records=(TelemetryRecord(ts_ms, seq, {"temperature_c": 40.0}),))
    return IngestedMessage(device_id, "telemetry", parsed, None, ts_ms / 1000 if received_at is None else received_at,
                           f"foreshock/v1/{device_id}/telemetry")


class CountingMonitor:
    """A stand-in for ``UnitMonitor``: counts what it learns and every serialisation of its state."""

    serialised: list[str] = []  # device ids, in the order their state was serialised

    def __init__(self, device_id: str = "?", n: int = 0) -> None:
        self.device_id, self.n = device_id, n

    def update_scalars(self, ts, values):
        self.n += 1
        return None

    def state_dict(self) -> dict:
        CountingMonitor.serialised.append(self.device_id)
        return {"device": self.device_id, "n": self.n}


def _stage(sessions, **kwargs) -> DetectionStage:
    stage = DetectionStage(sessions, flush_on_batch=False, **kwargs)
    created = []

    def factory(machine):  # the stage creates monitors in the order of the units' first messages
        mon = CountingMonitor()
        created.append(mon)
        return mon

    stage._factory = factory
    stage._created = created  # type: ignore[attr-defined]
    return stage


def _feed(stage: DetectionStage, ids: list[str], seq: int) -> None:
    stage.on_batch([tel(d, seq, T0_MS + seq * 10_000) for d in ids])
    for mon, d in zip(stage._created, ids):  # type: ignore[attr-defined]
        mon.device_id = d


class _ObservedLock:
    """The detection lock, counting its holds and calling ``on_release`` after each release."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holds = 0
        self.on_release = None

    def __enter__(self):
        self._lock.acquire()
        self.holds += 1
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()
        if self.on_release is not None:
            self.on_release()


# -- (a) state serialised in chunks of the detection lock --------------------------------------


def test_flush_serialises_at_most_a_chunk_of_units_per_hold_of_the_detection_lock(sessions):
    ids = [f"U-{i:03d}" for i in range(2 * _COLLECT_CHUNK + 7)]
    stage = _stage(sessions)
    _feed(stage, ids, 1)
    lock = _ObservedLock()
    stage._lock = lock
    hold_of: dict[str, int] = {}
    orig = CountingMonitor.state_dict

    def state_dict(self):
        hold_of[self.device_id] = lock.holds
        return orig(self)

    CountingMonitor.state_dict = state_dict  # type: ignore[method-assign]
    try:
        stage.flush()
    finally:
        CountingMonitor.state_dict = orig  # type: ignore[method-assign]
    assert sorted(hold_of) == ids  # every unit serialised once
    per_hold: dict[int, int] = {}
    for hold in hold_of.values():
        per_hold[hold] = per_hold.get(hold, 0) + 1
    assert max(per_hold.values()) <= _COLLECT_CHUNK
    assert len(per_hold) == 3  # 107 units: 50 + 50 + 7, each chunk in its own hold of the lock


def test_a_batch_from_another_thread_runs_between_two_chunks_of_one_flush(sessions):
    ids = [f"U-{i:03d}" for i in range(3 * _COLLECT_CHUNK)]
    stage = _stage(sessions)
    _feed(stage, ids, 1)
    lock = _ObservedLock()
    stage._lock = lock
    order: list[str] = []
    orig = CountingMonitor.state_dict

    def state_dict(self):
        order.append(f"state {self.device_id}")
        return orig(self)

    def batch_in_between() -> None:
        # released by the flush with serialised states behind it and more to come: let another
        # thread (ingest) deliver a batch now; it must get the lock and finish before the flush goes on
        done = [s for s in order if s.startswith("state")]
        if _COLLECT_CHUNK <= len(done) < len(ids) and "batch" not in order:
            lock.on_release = None
            t = threading.Thread(target=lambda: (stage.on_batch([tel("U-NEW", 1, T0_MS)]), order.append("batch")))
            t.start()
            t.join(30)  # with one hold for every unit this thread would wait for the whole flush
            lock.on_release = batch_in_between

    CountingMonitor.state_dict = state_dict  # type: ignore[method-assign]
    lock.on_release = batch_in_between
    try:
        stage.flush()
    finally:
        CountingMonitor.state_dict = orig  # type: ignore[method-assign]
        lock.on_release = None
    assert "batch" in order, "no batch could run during the flush"
    at = order.index("batch")
    assert 0 < at < len(order) - 1  # after the first chunk, before the last
    assert sum(s.startswith("state") for s in order[:at]) % _COLLECT_CHUNK == 0  # at a chunk boundary
    assert "U-NEW" in stage._units


# -- (b) last-seen times: one transaction from the tick loop, none from detection ----------------


class _SimClock:
    """Simulated monotonic time, and the tick loop's stop event: ``wait`` lets time pass while units
    keep sending (one batch of every unit each ``step_s``) and ends the loop after ``end_s``."""

    def __init__(self, on_step, step_s: float, end_s: float) -> None:
        self.now, self.on_step, self.step_s, self.end_s = 1000.0, on_step, step_s, 1000.0 + end_s

    def monotonic(self) -> float:
        return self.now

    def set(self) -> None:  # Pipeline.stop() sets its stop event
        pass

    def wait(self, timeout: float) -> bool:
        left = timeout
        while left > 1e-9:
            step = min(self.step_s, left)
            self.now += step
            left -= step
            self.on_step(self.now)
            if self.now >= self.end_s:
                return True
        return False


def test_tick_loop_writes_last_seen_in_one_transaction_and_detection_never_per_unit(tmp_path, monkeypatch):
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "data", log_level="WARNING", ingest={"auto_register": True},
                             devices={"seen_write_interval_s": 30.0})
    pipeline = Pipeline(settings, PipelineOptions(api=False, tick_interval_s=10.0))
    try:
        ids = [f"S-{i:03d}" for i in range(40)]
        for d in ids:
            pipeline.registry.auto_register(d)
        commits: list[int] = []
        event.listen(pipeline.engine, "commit", lambda conn: commits.append(1))
        writes: list[tuple[str, int, int]] = []  # (where, units, commits) of every last-seen write
        where = {"now": "tick loop"}
        write_seen = pipeline.registry._write_seen

        def recording_write_seen(seen):
            before = len(commits)
            write_seen(seen)
            writes.append((where["now"], len(seen), len(commits) - before))

        monkeypatch.setattr(pipeline.registry, "_write_seen", recording_write_seen)
        monkeypatch.setattr(pipeline, "tick", lambda: None)  # alert clocks and state saving are not the subject
        seq = {"n": 0}

        def units_send(now: float) -> None:  # what ingest does: a batch of every unit, through detection
            seq["n"] += 1
            where["now"] = "first messages" if seq["n"] == 1 else "detection"
            epoch_s = T0_MS / 1000 + (now - 1000.0)
            pipeline.detection.on_batch([tel(d, seq["n"], int(epoch_s * 1000), received_at=epoch_s) for d in ids])
            where["now"] = "tick loop"

        clock = _SimClock(units_send, step_s=2.0, end_s=300.0)
        monkeypatch.setattr(service_mod, "time", types.SimpleNamespace(monotonic=clock.monotonic))
        pipeline._stop = clock  # type: ignore[assignment]
        pipeline._tick_loop()
    finally:
        pipeline.stop(5)

    assert seq["n"] >= 150  # a batch at least every 2 s of the 300 s
    per_unit_in_detection = [w for w in writes if w[0] == "detection"]
    assert per_unit_in_detection == []  # never a single unit's commit inside detection after the first message
    loop_writes = [w for w in writes if w[0] == "tick loop"]
    assert len(loop_writes) >= 300 / 15 - 1  # every half seen_write_interval_s (15 s) of the 300 s
    assert all(units == len(ids) and n_commits == 1 for _, units, n_commits in loop_writes), loop_writes
