"""Fleet files with mistakes an engineer makes, found by writing fleets from docs/simulator.md: each
was accepted and then did something else than the file says; now each is refused naming the field.

- a sensor-fault parameter on a kind that does not use it (``skew_s`` on a dropout, ``rate`` on a
  stuck sensor) was silently ignored;
- a group with ``fault_kinds``, ``onset`` or ``ttf`` but no ``fault_probability`` stayed healthy:
  the default probability is 0;
- a misspelt placeholder in the credentials (``{unit}``) was sent literally, so that the broker
  refused every unit;
- an empty ``fault_kinds`` was "unknown empty list", a reversed ``onset`` range only "expected
  [earliest, latest]";
- a sensor fault that ends before it starts was said in milliseconds, under names the file does not have.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.fleet import load_fleet
from simulator.models import FleetError

UNIT = {"id": "X-1", "model": "P-1800"}


def _sensor(**fault: Any) -> dict[str, Any]:
    return {"units": [{**UNIT, "sensor_faults": [{"start": "1h", "end": "2h", **fault}]}]}


def _group(**extra: Any) -> dict[str, Any]:
    return {"groups": [{"prefix": "G-", "count": 3, "model": "P-1800", **extra}]}


@pytest.mark.parametrize(("doc", "message"), [
    (_sensor(kind="dropout", skew_s=-600),
     "units[0].sensor_faults[0]: skew_s does not apply to a dropout fault, which takes no parameters "
     "(spikes: rate, size_g; saturation: level, gain; clock_skew: skew_s)"),
    (_sensor(kind="stuck", rate=5), "units[0].sensor_faults[0]: rate does not apply to a stuck fault"),
    (_sensor(kind="spikes", level=2.0),
     "units[0].sensor_faults[0]: level does not apply to a spikes fault, which takes rate, size_g"),
    (_group(fault_kinds=["ball"], onset=["0h", "1h"], ttf=["1h", "2h"]),
     "groups[0]: fault_kinds, onset, ttf given but no fault_probability, so no unit of the group would develop "
     "a fault"),
    (_group(fault_probability=0.5, fault_kinds=[]), "groups[0].fault_kinds: empty; list at least one of outer_race"),
    (_group(fault_probability=0.5, onset=["24h", "0h"]),
     "groups[0].onset: expected [earliest, latest], got [86400 s, 0 s]: the earliest is after the latest"),
    (_group(fault_probability=0.5, ttf=["2h", "1h"]),
     "groups[0].ttf: expected [shortest, longest] with 0 < shortest <= longest, got [7200 s, 3600 s]"),
    ({"credentials": {"username": "{unit}", "password": "x"}, "units": [UNIT]},
     "credentials.username: unknown placeholder {unit} in '{unit}': the one placeholder is {unit_id}"),
    ({"units": [{**UNIT, "password": "secret-{id}"}]}, "units[0].password: unknown placeholder {id}"),
    # said in milliseconds under names the file does not have: "start_ms (7200000) must be before end_ms (3600000)"
    (_sensor(kind="stuck", start="2h", end="1h"), "units[0].sensor_faults[0]: start (7200 s) must be before end (3600 s)"),
    (_sensor(kind="dropout", start="1h", end="1h"), "units[0].sensor_faults[0]: start (3600 s) must be before end (3600 s)"),
])
def test_a_mistake_is_refused_naming_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(FleetError) as exc:
        load_fleet({"duration": "6h", **doc})
    assert message in str(exc.value)


def test_what_the_kinds_take_and_a_chosen_healthy_group_are_still_accepted() -> None:
    fleet = load_fleet({"duration": "6h", "credentials": {"username": "{unit_id}", "password": "s-{unit_id}"},
                        "units": [{**UNIT, "sensor_faults": [
                            {"kind": "spikes", "start": 0, "end": 10, "rate": 2, "size_g": 5},
                            {"kind": "saturation", "start": 0, "end": 10, "level": 0.5, "gain": 3},
                            {"kind": "clock_skew", "start": 0, "end": 10, "skew_s": -60}]}],
                        "groups": [{"prefix": "G-", "count": 2, "model": "P-1800", "fault_probability": 0,
                                    "fault_kinds": ["ball"]}]})
    assert [u.unit_id for u in fleet.units] == ["X-1", "G-0001", "G-0002"]
    assert fleet.units[0].username == "X-1" and fleet.units[0].password == "s-X-1"
    assert [f.params for f in fleet.units[0].sensor_faults] == [{"rate": 2.0, "size_g": 5.0},
                                                                {"level": 0.5, "gain": 3.0}, {"skew_s": -60.0}]
    assert all(u.fault is None for u in fleet.units)
