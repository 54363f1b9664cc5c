"""An ``online`` status stamped ahead of the platform's clock does not put the unit's last-seen time ahead.

The protocol accepts timestamps up to 5 minutes ahead (``ingest.future_tolerance_s``). ``record_status``
took an ``online`` status's own ``ts`` as the unit's last-seen time, while every other message counts by
the platform's receive time. A unit whose clock ran 4 minutes fast showed ``last_seen_ms`` 238 s in the
future in the API (seen with ``foreshock run``), and the deadman, which compares last-seen with the
platform's clock, reported it silent only 4 minutes after its limit had passed. The last-seen time is now
never later than the platform's clock when the status is recorded.
"""

from __future__ import annotations

import pytest

import devices.presence as presence_module
from devices.registry import Registry
from foreshock.db import make_engine, migrate, session_factory

NOW_MS = 1_795_256_130_000
AHEAD_MS = 240_000  # within the protocol's 5 minutes


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setattr(presence_module, "_now_ms", lambda: NOW_MS)  # the platform's clock
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    migrate(engine)
    reg = Registry(session_factory(engine))
    reg.create_model("P-200", rated_rpm=1480, reporting_interval_s=30)  # silent after 90 s
    reg.create_unit("P-0001", model="P-200")
    yield reg
    engine.dispose()


def test_an_online_status_from_a_fast_clock_counts_as_seen_now(registry):
    assert registry.record_status("P-0001", "online", NOW_MS + AHEAD_MS) is True
    p = registry.presence("P-0001", NOW_MS)
    # since when the platform heard it: a time still to come made the unit's next status look older (below)
    assert p.state == "online" and p.since_ms == NOW_MS
    assert p.last_seen_ms == NOW_MS
    assert registry.get_unit("P-0001").last_seen_ms == NOW_MS
    # nothing more from it: silent once its limit has passed on the platform's clock, not 4 minutes later
    assert [u.device_id for u in registry.silent_units(NOW_MS + 91_000)] == ["P-0001"]
    assert registry.presence("P-0001", NOW_MS + 91_000).silent


def test_an_online_status_stamped_in_the_past_still_counts_at_its_own_time(registry):
    registry.record_status("P-0001", "online", NOW_MS - 10_000)
    assert registry.presence("P-0001", NOW_MS).last_seen_ms == NOW_MS - 10_000
    registry.mark_seen("P-0001", NOW_MS)  # a message received now
    assert registry.presence("P-0001", NOW_MS).last_seen_ms == NOW_MS


def test_a_unit_whose_fast_clock_is_corrected_at_a_reboot_comes_back_online(registry, monkeypatch):
    """A unit whose clock ran 4 minutes fast shut down cleanly (``offline`` stamped by that clock), rebooted,
    set its clock by NTP and published ``online`` 30 s later, stamped right. That ``online`` was older than
    the recorded ``offline`` and ignored as stale, firmware and all: the unit showed ``offline`` while its
    data arrived, until its next status (its next reconnect). A status's time now counts no later than
    the platform heard it: nothing a unit says can have happened after it arrived."""
    firmware_update = "2.0.0"
    assert registry.record_status("P-0001", "online", NOW_MS - 3_600_000 + AHEAD_MS, firmware="1.9.0") is True
    assert registry.record_status("P-0001", "offline", NOW_MS + AHEAD_MS) is True  # clean shutdown, fast clock
    monkeypatch.setattr(presence_module, "_now_ms", lambda: NOW_MS + 30_000)  # 30 s later, NTP-synchronised
    assert registry.record_status("P-0001", "online", NOW_MS + 30_000, firmware=firmware_update) is True
    unit = registry.get_unit("P-0001")
    assert (unit.presence, unit.firmware) == ("online", firmware_update)
    assert registry.presence("P-0001", NOW_MS + 30_000).since_ms == NOW_MS + 30_000
    # order is still kept among a unit's statuses: an older one arriving later is still stale
    assert registry.record_status("P-0001", "offline", NOW_MS + 20_000) is False
    assert registry.get_unit("P-0001").presence == "online"
