"""An ``online`` status repeated without ``ts`` does not count as the unit seen, and the document says so.

docs/device-protocol.md said that "telemetry, vibration and `online` count" against the "unit silent"
deadman. A unit that said ``{"state":"online"}`` every minute as its heartbeat, without ``ts``, was
reported silent all the same: the registry takes an undated status repeating the recorded undated one for
the broker's retained copy (handed to the platform at each of its restarts; counted as seen, it cleared
"unit silent" of a dead unit at every restart) and changes nothing. With ``ts`` the same heartbeat counts.
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
    assert ("telemetry, vibration and an `online` with `ts` count; an `online` without `ts` that repeats the "
            "one before does not (the platform cannot tell it from the broker's retained copy, handed to it "
            "at each of its restarts), and a dead-lettered message does not") in FLAT


@pytest.mark.parametrize("dated", [False, True])
def test_an_online_heartbeat_counts_only_with_its_ts(registry, dated):
    registry.record_status("P-0001", "online", T0 if dated else None)
    for minute in range(1, 11):  # a heartbeat every minute for ten minutes
        registry.clock[0] = T0 + minute * MIN
        registry.record_status("P-0001", "online", registry.clock[0] if dated else None)
    assert registry.presence("P-0001", registry.clock[0]).silent is not dated
