"""Auto-registration that refuses a device refuses its messages too.

``Registry.auto_register`` returns whether the device is now a unit in service: it does not put a
decommissioned unit back in service, nor register ``p-0002`` beside the registered ``P-0002`` (serial
numbers are the same whatever their letter case). The converter called it and accepted the message
whatever it answered: with auto-registration on, a decommissioned unit's telemetry was stored (and
handed to the detectors and the deadman), and so was a case twin's, under a serial no unit has.
"""

from __future__ import annotations

import pytest

from devices import protocol
from devices.registry import Registry
from foreshock.db import make_engine, migrate, session_factory
from ingest.pipeline import Converter
from ingest.types import RawMessage

NOW = 1_700_000_000.0
TS = 1_700_000_000_000


def raw(device: str) -> RawMessage:
    return RawMessage(f"foreshock/v1/{device}/telemetry", protocol.telemetry_payload(TS, 1, {"t": 20.0}), NOW,
                      mid=1, qos=1)


@pytest.fixture
def registry(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'reg.db'}")
    migrate(engine)
    reg = Registry(session_factory(engine))
    reg.create_unit("P-0001")
    reg.create_unit("P-0002")
    reg.create_unit("Q-0007")
    reg.decommission("Q-0007")
    yield reg
    engine.dispose()


@pytest.mark.parametrize("auto", [True, False], ids=["auto-registration on", "auto-registration off"])
def test_a_decommissioned_unit_and_a_case_twin_are_dead_lettered_whether_or_not_auto_registration_is_on(
        registry, auto):
    conv = Converter(device_check=registry.is_known, auto_register=registry.auto_register if auto else False)
    ok, bad = conv.convert([raw("P-0001"), raw("Q-0007"), raw("p-0002"), raw("N-0001")])
    new = ["N-0001"] if auto else []
    assert [a.message.device_id for a in ok] == ["P-0001", *new]
    dead = {d.device_id: d for d in bad}
    assert sorted(dead) == sorted({"Q-0007", "p-0002", "N-0001"} - set(new))
    assert {d.reason for d in bad} == {"unknown_device"}
    if auto:
        for device in ("Q-0007", "p-0002"):  # the detail names what may be wrong, not "not registered"
            assert dead[device].detail.startswith(f"device {device!r} is not a unit in service and "
                                                  "auto-registration refused it: ")
            assert "decommissioned" in dead[device].detail and "letter case" in dead[device].detail
        assert registry.get_unit("N-0001").auto_registered
    else:
        assert dead["N-0001"].detail.startswith("device 'N-0001' is not a unit in service: not registered, ")
        assert registry.get_unit("N-0001") is None
    # nothing changed in the registry for the refused ones
    assert registry.get_unit("Q-0007").decommissioned_at is not None and not registry.is_known("Q-0007")
    assert registry.get_unit("p-0002") is None
    assert [u.device_id for u in registry.list_units(include_decommissioned=True)] == [*new, "P-0001", "P-0002",
                                                                                       "Q-0007"]


def test_a_callable_that_answers_nothing_is_taken_as_accepting_as_before():
    """``auto_register`` callables written before it returned a bool (they answer None) keep working."""
    registered: list[str] = []
    ok, bad = Converter(device_check=lambda d: False, auto_register=registered.append).convert([raw("N-0002")])
    assert bad == [] and [a.message.device_id for a in ok] == ["N-0002"] and registered == ["N-0002"]


@pytest.mark.parametrize("device", ["Q-0007", "p-0001", "N-0009"],
                         ids=["decommissioned", "another letter case", "not registered"])
def test_the_detail_of_an_unknown_device_names_what_it_may_be_without_auto_registration(registry, device):
    """With auto-registration off (the default) every device the registry does not know as a unit in
    service was told ``device 'Q-0007' is not registered``, also a unit decommissioned while it still
    sends (its credential works until the broker config is written again), which ``foreshock devices
    show`` shows registered. The detail names what the device may be and the command that tells."""
    ok, bad = Converter(device_check=registry.is_known).convert([raw(device)])
    assert ok == [] and [(d.reason, d.device_id) for d in bad] == [("unknown_device", device)]
    detail = bad[0].detail
    assert detail.startswith(f"device {device!r} is not a unit in service: ")
    assert "is not registered" not in detail  # Q-0007 is: decommissioned (devices show says so)
    for cause in ("not registered", "decommissioned", "letter case"):
        assert cause in detail
    assert f"foreshock devices show {device}" in detail
