"""What the detection stage publishes on a unit's ``health`` topic: its first assessment, even ``unknown``; every
change of state; and, while ``unknown``, a new first reason, at most once per ``health_reason_interval_s``.

Found in the firmware walkthrough: only changes of state were published and a unit started ``unknown``, so a new
unit whose first snapshots could not be assessed read nothing on its topic, and a second cause of ``unknown`` (a
sample rate too low, after too few samples were fixed) left the first cause there.
"""

from __future__ import annotations

import json

import numpy as np

import foreshock.detection as detection_mod
from devices.protocol import ParsedMessage, TelemetryRecord
from foreshock.detection import DetectionStage
from ingest.types import IngestedMessage
from tests.foreshock.messages import vibration_message
from tests.foreshock.test_detection import FakeAlerts, FakeRegistry

T0_MS = 1_795_000_000_000
FEW = "cannot assess: 3 samples, at least 256 are needed"
SLOW = "cannot assess: sample rate 1000 Hz"


def vib(seq: int, *, fs: float = 25600.0, n: int = 3) -> IngestedMessage:
    ts_ms = T0_MS + seq * 1000
    return vibration_message(seq, ts_ms, np.random.default_rng(seq).normal(0, 0.05, n), fs=fs)


def tel(seq: int) -> IngestedMessage:
    ts_ms = T0_MS + seq * 1000
    parsed = ParsedMessage("U-1", "telemetry", records=(TelemetryRecord(ts_ms, seq, {"temperature_c": 40.0}),))
    return IngestedMessage("U-1", "telemetry", parsed, None, ts_ms / 1000, "foreshock/v1/U-1/telemetry")


def _stage(sessions, published: list, **kw) -> DetectionStage:
    return DetectionStage(sessions, registry=FakeRegistry(), alerts=FakeAlerts(),
                          publish_health=lambda device, payload: published.append(json.loads(payload)), **kw)


def _said(published: list) -> list[tuple[str, str]]:
    return [(p["state"], p["reasons"][0] if p["reasons"] else "") for p in published]


def test_a_new_unit_whose_first_snapshot_cannot_be_assessed_is_told_why(sessions):
    published: list = []
    stage = _stage(sessions, published)
    stage.on_batch([vib(1)])
    assert _said(published) == [("unknown", FEW)]  # the old code: nothing (unknown -> unknown)
    assert published[0]["ts"] == T0_MS + 1000
    stage.on_batch([vib(2)])  # the same cause again: nothing new to say
    assert len(published) == 1


def test_a_second_cause_of_unknown_replaces_the_first_at_most_once_per_interval(sessions, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(detection_mod.time, "monotonic", lambda: now[0])
    published: list = []
    stage = _stage(sessions, published, health_reason_interval_s=60.0)
    stage.on_batch([vib(1)])
    stage.on_batch([vib(2, fs=1000.0, n=2560)])
    assert [s for s, _ in _said(published)] == ["unknown", "unknown"]
    assert published[1]["reasons"][0].startswith(SLOW)  # the old code: the first cause stayed on the topic
    now[0] += 30
    stage.on_batch([vib(3)])  # flapping back within the interval: held back
    assert len(published) == 2
    now[0] += 31
    stage.on_batch([vib(4)])  # after it: the topic catches up
    assert _said(published)[2] == ("unknown", FEW)
    stage.on_batch([tel(5)])  # a change of state is published at once, whatever the interval
    assert _said(published)[3][0] == "healthy"
    stage.on_batch([vib(6)])
    assert _said(published)[4] == ("unknown", FEW)
    assert len(published) == 5


def test_a_unit_with_saved_state_is_not_republished_for_the_state_its_topic_already_holds(sessions):
    published: list = []
    stage = _stage(sessions, published)
    stage.on_batch([tel(1)])
    stage.close()
    assert [s for s, _ in _said(published)] == ["healthy"]
    again = _stage(sessions, published)  # a restart: the retained message still says healthy
    again.on_batch([tel(2)])
    assert len(published) == 1
    again.on_batch([vib(3)])
    assert _said(published)[1] == ("unknown", FEW)
    again.close()
