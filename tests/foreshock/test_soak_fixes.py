"""The soak fixes (docs/reliability.md, "Load and soak"), each shown by behaviour, not by timing.

- detector state is serialised taking the detection lock for at most ``_COLLECT_CHUNK`` units at a
  time: another thread's batch runs between two chunks of one flush;
- the pipeline's tick loop writes every unit's last-seen time in one transaction, so detection
  (``Registry.mark_seen``) never writes a single unit's time after the unit's first message;
- only units whose detector state changed since the last flush are serialised and written, and
  the state still survives a restart;
- between snapshots the JSON of a monitor's waveform parts is reused, and what is saved is still
  exactly its whole state.
"""

from __future__ import annotations

import json
import threading
import types

import numpy as np
import pytest
from sqlalchemy import event

import foreshock.detection as detection_mod
import foreshock.service as service_mod
from devices.protocol import ParsedMessage, TelemetryRecord, VibrationSnapshot
from foreshock.detection import _COLLECT_CHUNK, _SNAPSHOT_KEYS, DetectionStage
from foreshock.models import DetectorState
from ingest.types import IngestedMessage

T0_MS = 1_795_000_000_000


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


# -- only changed units are serialised; the state survives a restart --------------------------


def test_a_unit_not_updated_since_the_last_flush_is_not_serialised_again(sessions):
    ids = ["A", "B", "C"]
    stage = _stage(sessions)
    _feed(stage, ids, 1)
    CountingMonitor.serialised = []
    stage.flush()
    assert sorted(CountingMonitor.serialised) == ids
    CountingMonitor.serialised = []
    stage.on_batch([tel("B", 2, T0_MS + 20_000)])
    stage.flush()
    assert CountingMonitor.serialised == ["B"]
    CountingMonitor.serialised = []
    stage.on_batch([tel("C", 1, T0_MS + 10_000)])  # a redelivery: nothing new learnt
    stage.flush()
    assert CountingMonitor.serialised == []
    assert stage.stats.skipped_old == 1


def test_state_written_only_for_changed_units_and_restored_after_restart(sessions, monkeypatch):
    monkeypatch.setattr(detection_mod.UnitMonitor, "from_state",
                        classmethod(lambda cls, state, machine=None: CountingMonitor(state["device"], state["n"])))
    stage = _stage(sessions)
    _feed(stage, ["A", "B"], 1)
    stage.flush()
    written: list[list[str]] = []
    write_states = stage._write_states
    monkeypatch.setattr(stage, "_write_states", lambda rows: (written.append([r[0] for r in rows]), write_states(rows)))
    for seq in (2, 3):
        stage.on_batch([tel("A", seq, T0_MS + seq * 10_000)])
        stage.flush()
    stage.flush()  # nothing changed since the last one
    assert written == [["A"], ["A"], []]
    stage.close()

    with sessions() as session:
        saved = {row.device_id: json.loads(row.state_json) for row in session.query(DetectorState)}
    assert saved["A"]["monitor"] == {"device": "A", "n": 3} and saved["B"]["monitor"] == {"device": "B", "n": 1}
    restarted = DetectionStage(sessions, flush_on_batch=False)
    restarted.on_batch([tel("A", 4, T0_MS + 40_000), tel("A", 3, T0_MS + 30_000)])  # the second is old
    mon = restarted._units["A"].monitor
    assert isinstance(mon, CountingMonitor) and mon.n == 4  # resumed from 3, learnt one, the old one skipped
    assert restarted.stats.skipped_old == 1


def vib(device_id: str, seq: int, ts_ms: int, rng) -> IngestedMessage:
    snap = VibrationSnapshot(ts_ms=ts_ms, seq=seq, axis="x", fs=25600.0,
                             samples=rng.normal(0, 0.05, 2560).astype(np.float32), rpm=1800.0)
    parsed = ParsedMessage(device_id, "vibration", snapshot=snap)
    return IngestedMessage(device_id, "vibration", parsed, None, ts_ms / 1000, f"foreshock/v1/{device_id}/vibration")


def _saved(sessions, device_id: str) -> dict:
    with sessions() as session:
        return json.loads(session.get(DetectorState, device_id).state_json)


def test_reused_snapshot_parts_give_the_same_state_as_a_fresh_serialisation(sessions):
    """Between snapshots the JSON of the waveform parts is reused; what is saved must still be exactly
    the monitor's whole state (fails if ``update_scalars`` starts changing a part in ``_SNAPSHOT_KEYS``)."""
    rng = np.random.default_rng(3)
    stage = DetectionStage(sessions, flush_on_batch=False)
    seq, ts = 0, T0_MS
    checked = 0
    scalar_states: list[dict] = []
    for round_ in range(12):
        seq += 1
        ts += 1_200_000  # 20 min between flushes: the scalar baselines keep a point every 15 min
        if round_ % 4 == 0:  # a snapshot every fourth flush, scalar telemetry in every one
            stage.on_batch([vib("R-1", seq, ts, rng)])
        stage.on_batch([IngestedMessage("R-1", "telemetry", ParsedMessage("R-1", "telemetry", records=(
                           TelemetryRecord(ts + 180_000 * k, seq * 10 + k,
                                           {"temperature_c": 40.0 + rng.normal(0, 0.3), "current_a": 12.0 + k / 10}),)),
                                        None, ts / 1000, "foreshock/v1/R-1/telemetry") for k in range(1, 7)])
        stage.flush()
        unit = stage._units["R-1"]
        warned = {"seq_warned": {"at": unit.seq_logged_at, "unwarned": unit.seq_unlogged}} if unit.seq_logged_at else {}
        expected = json.loads(json.dumps({"monitor": unit.monitor.state_dict(), "last_ts": unit.last_ts,
                                          "seq": unit.seq.state(), **warned}))
        assert _saved(sessions, "R-1") == expected, f"flush {round_}"
        scalar_states.append(expected)
        checked += 1
    assert stage.stats.states_reused >= 6  # the snapshot parts were reused in most flushes
    assert stage.stats.states_saved == checked
    assert any(stage._units["R-1"].monitor.state_dict()[k] for k in _SNAPSHOT_KEYS)  # not trivially empty
    assert len({json.dumps(s["monitor"]["scalars"]) for s in scalar_states}) == checked  # telemetry changed them

    before = stage._units["R-1"].monitor.state_dict()
    stage.close()
    restarted = DetectionStage(sessions, flush_on_batch=False)
    restarted.on_batch([tel("R-1", 1, T0_MS)])  # old: loads the unit, learns nothing
    assert json.loads(json.dumps(restarted._units["R-1"].monitor.state_dict())) == json.loads(json.dumps(before))
    assert restarted.stats.skipped_old == 1 and restarted.stats.states_saved == 0


# -- start-up objects out of the garbage collector's reach --------------------------------------


@pytest.mark.parametrize("freeze", [True, False])
def test_pipeline_start_freezes_start_up_objects_only_when_asked(tmp_path, monkeypatch, freeze):
    import gc

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    gc.unfreeze()
    settings = load_settings(data_dir=tmp_path / "data", log_level="WARNING")
    pipeline = Pipeline(settings, PipelineOptions(api=False, freeze_gc=freeze))
    monkeypatch.setattr(pipeline.ingest, "start", lambda: None)  # no broker: the subject is start-up
    monkeypatch.setattr(pipeline.ingest, "stop", lambda timeout_s=None: None)
    try:
        pipeline.start()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
        pipeline.stop(5)
    if freeze:
        assert frozen > 10_000  # the modules and the pipeline's objects
    else:
        assert frozen == 0


def test_with_deferred_writes_even_first_messages_are_written_by_the_tick_loop_alone(tmp_path, monkeypatch):
    """A fleet that starts together made a wave of single-unit commits at start-up (each unit's first
    message was written alone inside detection); a started pipeline defers them to its tick loop."""
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "data", log_level="WARNING", ingest={"auto_register": True})
    pipeline = Pipeline(settings, PipelineOptions(api=False, tick_interval_s=3600.0))
    monkeypatch.setattr(pipeline.ingest, "start", lambda: None)  # no broker: only the start-up wiring
    try:
        pipeline.start()
        assert pipeline.registry.defer_seen_writes
        ids = [f"S-{i:03d}" for i in range(50)]
        for d in ids:
            pipeline.registry.auto_register(d)
        commits: list[int] = []
        event.listen(pipeline.engine, "commit", lambda conn: commits.append(1))
        pipeline.detection.on_batch([tel(d, 1, T0_MS) for d in ids])
        assert commits == []  # nothing written inside detection, not even the first messages
        assert pipeline.registry.flush_seen() == len(ids) and len(commits) == 1  # one transaction
        assert all(u.last_seen_ms == T0_MS for u in map(pipeline.registry.get_unit, ids))
    finally:
        pipeline.stop(5)
