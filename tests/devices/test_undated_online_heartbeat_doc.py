"""An ``online`` status without ``ts`` counts as the unit seen when the unit sends it, not when the broker
hands the platform its retained copy; the document says so.

docs/device-protocol.md said that "telemetry, vibration and `online` count" against the "unit silent"
deadman. A unit that said ``{"state":"online"}`` every minute as its heartbeat, without ``ts``, was
reported silent all the same: the registry took an undated status repeating the recorded undated one for
the broker's retained copy (handed to the platform at each of its restarts; counted as seen, it cleared
"unit silent" of a dead unit at every restart) and changed nothing. MQTT tells the two apart: a copy the
broker hands a new subscription is marked retained, a message published while the platform listens is
not. Ingest now passes the mark on, and a live undated heartbeat counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import devices.presence as presence_module
from devices.registry import Registry
from foreshock.db import make_engine, migrate, session_factory

DOC = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
FLAT = " ".join(DOC.read_text(encoding="utf-8").split())
T0 = 1_795_256_130_000
MIN = 60_000


@pytest.fixture
def registry(tmp_path, monkeypatch):
    clock = [T0]
    monkeypatch.setattr(presence_module, "_now_ms", lambda: clock[0])
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    migrate(engine)
    reg = Registry(session_factory(engine))
    reg.create_model("P-200", rated_rpm=1480, reporting_interval_s=60)  # silent after 3 min
    reg.create_unit("P-0001", model="P-200")
    reg.clock = clock
    yield reg
    engine.dispose()


def test_the_document_says_which_online_counts():
    assert ("telemetry, vibration and an `online` count, with or without `ts`, when the unit publishes it; "
            "the broker's retained copy of an undated status, handed to the platform again at each of its "
            "restarts, does not") in FLAT


@pytest.mark.parametrize("dated,retained,silent", [
    (True, False, False),   # a dated heartbeat counts
    (False, False, False),  # an undated one the unit sends now counts too (it was reported silent)
    (False, True, True),    # the broker's retained copy, handed over again and again, does not
])
def test_an_online_heartbeat_counts_when_the_unit_sends_it(registry, dated, retained, silent):
    registry.record_status("P-0001", "online", T0 if dated else None, retained=retained)
    for minute in range(1, 11):  # a heartbeat every minute for ten minutes
        registry.clock[0] = T0 + minute * MIN
        registry.record_status("P-0001", "online", registry.clock[0] if dated else None, retained=retained)
    assert registry.presence("P-0001", registry.clock[0]).silent is silent


def test_ingest_passes_the_retained_mark_to_the_registry():
    """From the MQTT message to the registry: ingest's pipeline keeps ``retain`` on what it accepts,
    and the detection stage hands it to ``record_status``."""
    from foreshock.detection import DetectionStage
    from ingest.pipeline import Converter
    from ingest.types import RawMessage

    calls = []

    class Registry:
        def record_status(self, *a, **kw):
            calls.append(kw)

    conv = Converter(device_check=None)
    got = []
    for retain in (False, True):
        raw = RawMessage("foreshock/v1/P-0001/status", b'{"state": "online"}', 0.0, 1, 1, retain)
        accepted, rejected = conv.convert([raw])
        assert not rejected and accepted[0].message.retained is retain
        got.append(accepted[0].message)
    stage = DetectionStage(None, registry=Registry())  # (a status touches no database here)
    for msg in got:
        stage._one(msg, [])
    assert calls == [{"retained": False}, {"retained": True}]
