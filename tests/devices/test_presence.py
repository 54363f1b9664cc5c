"""Presence from status messages and the last will; the silent-unit deadman."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from devices.errors import InvalidInput
from devices.models import Unit
from devices.registry import Registry
from foreshock.db import session_factory

T0 = 1_800_000_000_000  # ms
MIN = 60_000


def _db_last_seen(engine, device_id):
    with session_factory(engine)() as s:
        return s.scalar(select(Unit.last_seen_ms).where(Unit.device_id == device_id))


def test_status_sets_presence_and_firmware(registry, model, monkeypatch):
    import devices.presence

    # the platform's clock, after T0: an online status counts as seen at its ts when that is not ahead of the
    # platform's clock (test_presence_clock_ahead.py)
    monkeypatch.setattr(devices.presence, "_now_ms", lambda: T0 + MIN)
    registry.create_unit("P-0001", model="P-200", firmware="1.0")
    assert registry.presence("P-0001", T0).state == "unknown"
    assert registry.record_status("P-0001", "online", T0, firmware="1.1") is True
    unit = registry.get_unit("P-0001")
    assert (unit.presence, unit.presence_ts_ms, unit.firmware, unit.last_seen_ms) == ("online", T0, "1.1", T0)
    assert registry.record_status("P-0001", "online", T0 + 1) is False  # no change of state
    assert registry.record_status("P-0001", "offline", T0 + 2) is True  # the last will
    p = registry.presence("P-0001", T0 + 3)
    assert (p.state, p.since_ms, p.last_seen_ms, p.silent) == ("offline", T0 + 2, T0 + 1, False)


def _platform_clock(monkeypatch, now_ms: int) -> None:
    """The platform's clock: a status stamped after it counts as stamped at it (T0 is in 2027)."""
    import devices.presence

    monkeypatch.setattr(devices.presence, "_now_ms", lambda: now_ms)


def test_stale_status_is_ignored(registry, monkeypatch):
    _platform_clock(monkeypatch, T0 + MIN)
    registry.create_unit("P-0001")
    registry.record_status("P-0001", "offline", T0 + 10)
    assert registry.record_status("P-0001", "online", T0) is False
    assert registry.get_unit("P-0001").presence == "offline"


def test_status_of_unknown_unit_is_ignored_and_bad_state_rejected(registry):
    assert registry.record_status("nobody", "online", T0) is False
    registry.create_unit("P-0001")
    with pytest.raises(InvalidInput, match="state"):
        registry.record_status("P-0001", "sleeping", T0)


def test_last_will_without_timestamp_uses_now(registry):
    registry.create_unit("P-0001")
    registry.record_status("P-0001", "offline", None)
    unit = registry.get_unit("P-0001")
    assert unit.presence == "offline" and unit.presence_ts_ms > T0 - 10**12


def test_deadman_raised_after_n_intervals_and_cleared_on_report(registry, model):
    # P-200 reports every 60 s; silent after 3 intervals = 180 s.
    registry.create_unit("P-0001", model="P-200", customer="ACME")
    registry.create_unit("P-0002", model="P-200")  # never seen: never silent
    registry.mark_seen("P-0001", T0)
    assert registry.silent_units(T0 + 3 * MIN) == []  # exactly at the limit: not yet
    silent = registry.silent_units(T0 + 3 * MIN + 1)
    assert [(s.device_id, s.last_seen_ms, s.limit_s, s.model, s.customer) for s in silent] == [
        ("P-0001", T0, 180.0, "P-200", "ACME")]
    assert silent[0].silent_for_s == pytest.approx(180.001)
    assert registry.presence("P-0001", T0 + 4 * MIN).silent

    registry.mark_seen("P-0001", T0 + 4 * MIN)  # reports again: cleared
    assert registry.silent_units(T0 + 4 * MIN + 1) == []
    assert not registry.presence("P-0001", T0 + 4 * MIN + 1).silent


def test_deadman_uses_each_models_interval_and_default(engine, registry, model):
    registry.create_model("SLOW", reporting_interval_s=3600)
    registry.create_unit("P-0001", model="P-200")
    registry.create_unit("S-0001", model="SLOW")
    registry.auto_register("X-1")  # no model: the registry default (60 s) applies
    for d in ("P-0001", "S-0001", "X-1"):
        registry.mark_seen(d, T0)
    assert [s.device_id for s in registry.silent_units(T0 + 10 * MIN)] == ["P-0001", "X-1"]
    assert [s.device_id for s in registry.silent_units(T0 + 181 * MIN)] == ["P-0001", "S-0001", "X-1"]
    strict = Registry(session_factory(engine), silent_after_intervals=5, default_reporting_interval_s=None)
    assert [s.device_id for s in strict.silent_units(T0 + 4 * MIN)] == []
    assert [s.device_id for s in strict.silent_units(T0 + 6 * MIN)] == ["P-0001"]


def test_decommissioned_units_are_never_silent(registry, model):
    registry.create_unit("P-0001", model="P-200")
    registry.mark_seen("P-0001", T0)
    registry.decommission("P-0001")
    assert registry.silent_units(T0 + 100 * MIN) == []


def test_mark_seen_writes_the_database_at_most_every_interval(engine, model):
    reg = Registry(session_factory(engine), seen_write_interval_s=30)
    reg.create_unit("P-0001", model="P-200")
    reg.mark_seen("P-0001", T0)
    assert _db_last_seen(engine, "P-0001") == T0  # the first message is written at once
    reg.mark_seen("P-0001", T0 + 10_000)
    assert _db_last_seen(engine, "P-0001") == T0  # throttled ...
    assert reg.presence("P-0001", T0 + 10_000).last_seen_ms == T0 + 10_000  # ... but exact in process
    reg.mark_seen("P-0001", T0 + 5_000)  # out of order: ignored
    reg.mark_seen("P-0001", T0 + 30_000)
    assert _db_last_seen(engine, "P-0001") == T0 + 30_000
    reg.mark_seen("P-0001", T0 + 40_000)
    assert reg.flush_seen() == 1
    assert _db_last_seen(engine, "P-0001") == T0 + 40_000
    assert reg.flush_seen() == 0


def test_throttled_seen_clears_deadman_in_process(engine, model):
    """A unit silent in the database but seen in memory is not reported silent by this process."""
    reg = Registry(session_factory(engine), seen_write_interval_s=3600)
    reg.create_unit("P-0001", model="P-200")
    reg.mark_seen("P-0001", T0)
    reg.mark_seen("P-0001", T0 + 10 * MIN)  # not written (throttled)
    assert _db_last_seen(engine, "P-0001") == T0
    assert reg.silent_units(T0 + 11 * MIN) == []
    other = Registry(session_factory(engine))  # another process sees only the database
    assert [s.device_id for s in other.silent_units(T0 + 11 * MIN)] == ["P-0001"]


def test_status_after_a_last_will_is_applied_even_from_a_trailing_clock(registry, monkeypatch):
    """The will is stamped with the platform clock; a unit whose clock trails it must still come back online."""
    _platform_clock(monkeypatch, T0 + 60 * MIN)
    registry.create_unit("P-0001")
    registry.record_status("P-0001", "online", T0)
    registry.record_status("P-0001", "offline", None)  # the will, stamped now (long after T0)
    assert registry.record_status("P-0001", "online", T0 + 1000) is True
    assert registry.get_unit("P-0001").presence == "online"
    assert registry.record_status("P-0001", "offline", T0 + 500) is False  # device-stamped and older: stale
    assert registry.get_unit("P-0001").presence == "online"


def test_the_retained_will_delivered_again_at_a_restart_keeps_the_offline_time(registry, monkeypatch):
    """The broker hands its retained copy of a unit's will (`{"state":"offline"}`, no ts) to every new
    subscription: at each restart of `foreshock run` it was stamped again with the platform's clock, so
    an offline unit's "offline since" moved to the last restart (seen with Mosquitto 2.0.11)."""
    import devices.presence

    registry.create_unit("P-0001")
    registry.record_status("P-0001", "online", T0)
    monkeypatch.setattr(devices.presence, "_now_ms", lambda: T0 + 5 * MIN)
    assert registry.record_status("P-0001", "offline", None) is True  # the will, stamped now
    monkeypatch.setattr(devices.presence, "_now_ms", lambda: T0 + 60 * MIN)
    assert registry.record_status("P-0001", "offline", None) is False  # the retained copy, after a restart
    assert registry.presence("P-0001", T0 + 60 * MIN).since_ms == T0 + 5 * MIN
    assert registry.record_status("P-0001", "online", T0 + 1000) is True  # the unit is back, from a trailing clock
    assert registry.record_status("P-0001", "offline", None) is True  # and gone again
    assert registry.get_unit("P-0001").presence == "offline"


def test_a_new_firmware_in_a_repeated_undated_online_status_is_recorded(registry):
    """An undated `online` repeating the recorded undated one was dropped whole, firmware included, while
    the same message with a `ts` was recorded: a unit updated without a reconnect kept its old firmware."""
    registry.create_unit("P-0001", firmware="1.0")
    assert registry.record_status("P-0001", "online", None, firmware="1.0") is True
    since = registry.presence("P-0001").since_ms
    assert registry.record_status("P-0001", "online", None, firmware="1.1") is False  # presence did not change
    unit = registry.get_unit("P-0001")
    assert (unit.firmware, unit.presence, unit.presence_ts_ms) == ("1.1", "online", since)
    assert registry.record_status("P-0001", "online", None) is False  # no firmware: nothing to record
    assert registry.get_unit("P-0001").firmware == "1.1"
