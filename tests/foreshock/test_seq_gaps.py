"""Gaps in a unit's seq: messages lost before Foreshock received them are counted and reported."""

from __future__ import annotations

import json
import logging

import numpy as np

from devices.protocol import ParsedMessage, TelemetryRecord, VibrationSnapshot
from foreshock.detection import DetectionStage
from foreshock.models import DetectorState
from foreshock.seqgaps import MAX_GAPS, MAX_JUMP, REORDER_WINDOW, SeqTracker
from ingest.types import IngestedMessage

T0 = 1_795_000_000_000


def feed(t: SeqTracker, seqs, ts0: int = T0) -> int:
    """``seqs`` one by one, each with its own time stamp (a resent message keeps the one it had)."""
    return sum(t.see(s, ts0 + 10_000 * s) for s in seqs)


def test_a_gap_is_counted_once_the_unit_has_moved_past_it():
    t = SeqTracker()
    assert feed(t, [10, 11, 12, 20, 21]) == 0  # 13..19 may still come (reordered)
    assert t.open == 7 and t.missing == 0
    assert t.see(20 + REORDER_WINDOW, T0 + 100_000) == 7 - 0  # 13..19 are now counted lost
    assert t.missing == 7


def test_consecutive_and_duplicate_seqs_are_not_gaps():
    t = SeqTracker()
    assert feed(t, [0, 1, 1, 2, 3, 3, 3, 4, 2, 5]) == 0
    assert t.missing == 0 and t.open == 0 and t.last == 5
    t2 = SeqTracker()
    feed(t2, list(range(1000)) + list(range(500, 600)))  # a resent backlog
    assert t2.missing == 0 and t2.open == 0 and t2.last == 999


def test_reordered_messages_fill_their_gap():
    t = SeqTracker()
    feed(t, [1, 2, 5, 3, 7, 4, 6, 8])
    assert t.open == 0 and t.gaps == []
    assert feed(t, range(9, 9 + 2 * REORDER_WINDOW)) == 0
    assert t.missing == 0
    t3 = SeqTracker()
    feed(t3, [1, 10, 5])  # 5 splits the gap 2..9
    assert t3.gaps == [[2, 4], [6, 9]]


def test_a_backlog_with_older_timestamps_does_not_reset_the_count():
    t = SeqTracker()
    feed(t, range(2000, 2100), ts0=T0 + 10**7)
    feed(t, [5, 6, 7], ts0=T0)  # low seq but older time stamps: a backlog, not a reboot
    assert t.last == 2099
    assert t.see(2100, T0 + 10**8) == 0 and t.missing == 0


def test_a_reboot_restarts_the_count_without_counting_a_gap():
    t = SeqTracker()
    feed(t, range(5000, 5010))
    assert t.see(0, T0 + 10**9) == 0  # newer message, seq near 0: the unit rebooted
    assert t.last == 0 and t.missing == 0
    feed(t, [1, 2, 3], ts0=T0 + 10**9)
    assert t.missing == 0 and t.open == 0
    # open gaps of before the reboot are counted at it: those messages never come
    t.see(5, T0 + 10**10)
    assert t.see(0, T0 + 10**10 + 1) == 1 and t.missing == 1


def test_a_huge_jump_is_a_counter_reset_not_loss():
    t = SeqTracker()
    feed(t, [1, 2, 3])
    assert t.see(3 + MAX_JUMP + 1, T0 + 10**6) == 0
    assert t.missing == 0 and t.gaps == [] and t.last == 3 + MAX_JUMP + 1
    assert t.see(t.last + 1, T0 + 10**6 + 1) == 0


def test_the_state_stays_bounded():
    t = SeqTracker()
    feed(t, range(0, 4 * MAX_GAPS, 2))  # a gap of one after every message
    assert len(t.gaps) <= MAX_GAPS
    assert t.missing + t.open == 2 * MAX_GAPS - 1


def test_state_round_trip():
    t = SeqTracker()
    feed(t, [1, 2, 5, 9])
    t.see(9 + REORDER_WINDOW + 10, T0 + 10**6)
    doc = json.loads(json.dumps(t.state()))
    back = SeqTracker.from_state(doc)
    assert (back.last, back.last_ts_ms, back.gaps, back.missing) == (t.last, t.last_ts_ms, t.gaps, t.missing)
    assert back.see(back.last + 1, T0 + 2 * 10**6) == 0
    assert SeqTracker.from_state(None).last is None
    assert SeqTracker.from_state({"last": "x", "ts": 1, "missing": 0}).last is None  # unreadable: start afresh


# -- through the detection stage ---------------------------------------------------------------

def tel(seq: int, ts_ms: int, device: str = "P-0001") -> IngestedMessage:
    parsed = ParsedMessage(device, "telemetry", records=(TelemetryRecord(ts_ms, seq, {"temperature_c": 40.0}),))
    return IngestedMessage(device, "telemetry", parsed, None, ts_ms / 1000, f"foreshock/v1/{device}/telemetry")


def vib(seq: int, ts_ms: int, axis: str = "x", device: str = "P-0001") -> IngestedMessage:
    snap = VibrationSnapshot(ts_ms=ts_ms, seq=seq, axis=axis, fs=25600.0,
                             samples=np.random.default_rng(seq).normal(0, 0.05, 2560).astype(np.float32), rpm=1800.0)
    parsed = ParsedMessage(device, "vibration", snapshot=snap)
    return IngestedMessage(device, "vibration", parsed, None, ts_ms / 1000, f"foreshock/v1/{device}/vibration")


def test_the_detection_stage_counts_warns_and_keeps_the_count_across_a_restart(sessions, caplog):
    stage = DetectionStage(sessions, flush_on_batch=False)
    # 0..199 with 120 lost (seq 40..159), telemetry and snapshots sharing the counter, a redelivery of 10..19
    seqs = [s for s in range(200) if not 40 <= s < 160]
    msgs = [vib(s, T0 + s * 10_000) if s % 25 == 0 else tel(s, T0 + s * 10_000) for s in seqs]
    with caplog.at_level(logging.WARNING, logger="foreshock.detection"):
        stage.on_batch(msgs[:30])
        stage.on_batch(msgs[10:20] + msgs[30:])
        stage.on_batch([tel(s, T0 + s * 10_000) for s in range(200, 200 + REORDER_WINDOW + 1)])
    assert stage.stats.seq_missing == 120
    assert stage.seq_missing("P-0001") == 120
    warnings = [r.getMessage() for r in caplog.records if "seq gaps" in r.getMessage()]
    assert len(warnings) == 1 and "unit P-0001: 120 message(s) missing (seq gaps)" in warnings[0]
    assert "max_queued_messages" in warnings[0]
    stage.close()

    with sessions() as session:
        saved = json.loads(session.get(DetectorState, "P-0001").state_json)
    assert saved["seq"]["missing"] == 120 and saved["seq"]["last"] == 200 + REORDER_WINDOW
    assert DetectionStage(sessions).seq_missing("P-0001") == 120  # read from the saved state

    restarted = DetectionStage(sessions, flush_on_batch=False)
    nxt = 200 + REORDER_WINDOW + 1
    restarted.on_batch([tel(nxt, T0 + nxt * 10_000)])  # the next one after the restart: nothing lost
    restarted.on_batch([tel(nxt + 6, T0 + (nxt + 6) * 10_000)])  # 5 lost while it was down
    restarted.on_batch([tel(s, T0 + s * 10_000) for s in range(nxt + 7, nxt + 8 + REORDER_WINDOW)])
    assert restarted.seq_missing("P-0001") == 125 and restarted.stats.seq_missing == 5
    assert DetectionStage(sessions).seq_missing("nobody") is None


def test_the_warning_about_a_unit_comes_at_most_hourly_with_what_accumulated(sessions, caplog, monkeypatch):
    import foreshock.detection as detection_mod

    clock = [1000.0]
    monkeypatch.setattr(detection_mod.time, "time", lambda: clock[0])
    stage = DetectionStage(sessions, flush_on_batch=False)
    seq = 0

    def lose(n: int) -> None:  # n messages lost, then enough arrive that they are counted
        nonlocal seq
        seq += n + 1
        stage.on_batch([tel(s, T0 + s * 10_000) for s in range(seq, seq + REORDER_WINDOW + 1)])
        seq += REORDER_WINDOW

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "seq gaps" in r.getMessage()]

    with caplog.at_level(logging.WARNING, logger="foreshock.detection"):
        stage.on_batch([tel(0, T0)])
        lose(3)
        assert len(warnings()) == 1 and "unit P-0001: 3 message(s) missing (seq gaps):" in warnings()[0]
        clock[0] += 1800
        lose(4)
        lose(5)
        assert len(warnings()) == 1 and stage.stats.seq_missing == 12  # counted, not logged yet
        clock[0] += 1801
        lose(6)
        assert len(warnings()) == 2
        assert "unit P-0001: 15 message(s) missing (seq gaps) in the last 1.0 h" in warnings()[1]


def test_the_hourly_limit_of_the_warning_holds_across_a_restart(sessions, caplog, monkeypatch):
    """After a restart of ``foreshock run`` the next gap of a unit warned about minutes before was warned
    about again at once: the time of the last warning was a monotonic time in memory (tried with a real
    Mosquitto and ``foreshock run`` stopped and started: two warnings within a minute)."""
    import foreshock.detection as detection_mod

    clock = [1_795_000_000.0]
    monkeypatch.setattr(detection_mod.time, "time", lambda: clock[0])

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "seq gaps" in r.getMessage()]

    def lose(stage: DetectionStage, first: int, n: int) -> int:  # n lost, then enough arrive to count them
        start = first + n
        stage.on_batch([tel(s, T0 + s * 10_000) for s in range(start, start + REORDER_WINDOW + 1)])
        return start + REORDER_WINDOW + 1

    with caplog.at_level(logging.WARNING, logger="foreshock.detection"):
        stage = DetectionStage(sessions, flush_on_batch=False)
        stage.on_batch([tel(0, T0)])
        nxt = lose(stage, 1, 3)
        assert len(warnings()) == 1
        stage.close()
        clock[0] += 600  # restarted ten minutes later
        stage = DetectionStage(sessions, flush_on_batch=False)
        nxt = lose(stage, nxt, 4)
        assert len(warnings()) == 1 and stage.seq_missing("P-0001") == 7  # counted, not said again
        stage.close()
        clock[0] += 3000  # and again, more than an hour after the warning
        stage = DetectionStage(sessions, flush_on_batch=False)
        lose(stage, nxt, 5)
        assert len(warnings()) == 2
        assert "unit P-0001: 9 message(s) missing (seq gaps) in the last 1.0 h" in warnings()[1]  # 4 + 5
        stage.close()
