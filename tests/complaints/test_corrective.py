"""Corrective actions verified by data: the simulator's weak bearing lot replaced from a date is found
effective; a sham action on unaffected units is found not effective; too little data says how much more."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from alerts.complaint_desk import ComplaintDesk
from alerts.config import AlertConfig
from alerts.ratestats import compare_rates
from alerts.service import AlertService
from detectors.types import Assessment
from simulator.fleet import load_fleet
from simulator.truth import Truth
from tests.alerts.helpers import Clock

WEEK = 7 * 86400
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday
WEEKS_BEFORE, WEEKS_AFTER = 8, 8
FIX = START + WEEKS_BEFORE * WEEK  # the weak lot's bearings are replaced from here
BEARING = ["outer_race", "inner_race", "ball"]


def weak_lot_doc() -> dict:
    path = Path(__file__).resolve().parents[2] / "simulator" / "fleets" / "weak-lot.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def week_fleet(doc: dict, week: int):
    """One simulated week; after the fix the weak batch fails like the good one."""
    d = copy.deepcopy(doc)
    if week >= WEEKS_BEFORE:
        good = next(g for g in d["groups"] if g["prefix"] == "P-A")
        weak = next(g for g in d["groups"] if g["prefix"] == "P-B")
        weak.update(fault_probability=good["fault_probability"], onset=good["onset"], ttf=good["ttf"])
    return load_fleet(d, seed=doc["seed"] + week)


@pytest.fixture(scope="module")
def failures() -> list[tuple[str, str, float]]:
    """(unit, failure mode, failure time) from the simulator's ground truth, week by week."""
    doc = weak_lot_doc()
    out = []
    for week in range(WEEKS_BEFORE + WEEKS_AFTER):
        t0 = START + week * WEEK
        truth = Truth.of(week_fleet(doc, week), start_ms=int(t0 * 1000), end_ms=int((t0 + WEEK) * 1000))
        out += [(u["unit_id"], u["fault"], u["failure_ms"] / 1000) for u in truth.failed()]
    return sorted(out, key=lambda f: f[2])


@pytest.fixture
def fleet_service(factory, failures):
    """The weak-lot fleet in the registry and its failures as tickets through the alert service."""
    from devices.registry import Registry

    reg = Registry(factory)
    reg.create_model("P-1800", rated_rpm=1480.0)
    reg.create_model("F-3000", rated_rpm=2960.0)
    installed = date(2025, 10, 1)
    for u in load_fleet(weak_lot_doc()).units:
        reg.create_unit(u.unit_id, model=u.model.name, batch=u.batch, firmware=u.firmware, install_date=installed)
    clock = Clock(START)
    svc = AlertService(factory, registry=reg, config=AlertConfig(surge_min_units=1000), clock=clock)
    for i, (dev, mode, ts) in enumerate(failures):
        clock.t = ts
        svc.handle_assessment(dev, Assessment(ts=ts, state="alarm", failure_mode=mode), source_key=f"sim:{i}")
        number = svc.list_tickets(open_only=True, device_id=dev)[0]["number"]
        svc.move_ticket(number, "closed", actor="field", note="bearing replaced")
        for k in range(3):  # the repaired unit is healthy again: its alert clears
            svc.handle_assessment(dev, Assessment(ts=ts + k + 1, state="healthy"), source_key=f"sim:{i}:ok{k}")
    clock.t = START + (WEEKS_BEFORE + WEEKS_AFTER) * WEEK
    yield svc
    svc.close()


@pytest.mark.integration
@pytest.mark.slow
def test_weak_lot_replacement_is_effective_and_a_sham_is_not(fleet_service, failures):
    weak_before = sum(1 for d, m, t in failures if d.startswith("P-B") and m in BEARING and t < FIX)
    weak_after = sum(1 for d, m, t in failures if d.startswith("P-B") and m in BEARING and t >= FIX)
    assert weak_before > 4 * max(weak_after, 1)  # the scenario does what it says
    desk = ComplaintDesk(fleet_service)
    ticket = fleet_service.list_tickets(device_id="P-B0001")[0]["number"] if any(
        d == "P-B0001" for d, _, _ in failures) else fleet_service.list_tickets()[0]["number"]
    real = desk.create_action(title="New bearing supplier for batch 2026-W31", scope={"batch": "2026-W31"},
                              failure_modes=BEARING, applied_at=FIX, baseline_d=WEEKS_BEFORE * 7, actor="eng",
                              ticket=ticket)
    sham = desk.create_action(title="Sham: new grease on good pumps", failure_modes=BEARING, applied_at=FIX,
                              scope={"serial_from": "P-A0001", "serial_to": "P-A0080"},
                              baseline_d=WEEKS_BEFORE * 7, actor="eng")
    v_real = desk.verify_action(real["id"], actor="eng")["verdict"]
    v_sham = desk.verify_action(sham["id"], actor="eng")["verdict"]
    assert v_real["verdict"] == "effective", v_real["statement"]
    assert v_real["ci_high"] < 1 and v_real["counts"]["before_in"][0] == weak_before
    assert v_real["counts"]["after_in"][0] == weak_after
    assert v_real["units_in_scope"] == 40 and v_real["counts"]["before_in"][1] == 40 * WEEKS_BEFORE * 7
    assert v_sham["verdict"] == "not_effective", v_sham["statement"]
    assert v_sham["units_in_scope"] == 80
    d = fleet_service.get_ticket(ticket)["eight_d"]
    assert d["D6"]["verification"]["verdict"] == "effective" and d["D7"]["verdict"] == "effective"
    # a day after the fix nothing can be decided yet: it says how many more unit-days are needed
    fleet_service.clock.t = FIX + 86400
    early = desk.verify_action(real["id"], actor="eng")["verdict"]
    assert early["verdict"] == "insufficient_data" and early["more_unit_days"] > 0, early


def test_rate_comparison_verdicts_and_bad_input():
    assert compare_rates(before_in=(40, 1000), after_in=(4, 1000), before_out=(10, 4000),
                         after_out=(10, 4000)).verdict == "effective"
    same = compare_rates(before_in=(200, 1000), after_in=(200, 1000), before_out=(200, 4000), after_out=(200, 4000))
    assert same.verdict == "not_effective" and same.ci_low < 1 < same.ci_high
    few = compare_rates(before_in=(2, 100), after_in=(1, 100), before_out=(2, 400), after_out=(2, 400))
    assert few.verdict == "insufficient_data" and ("more unit-days" in few.statement or "widen" in few.statement)
    none_yet = compare_rates(before_in=(2, 100), after_in=(0, 0), before_out=(2, 400), after_out=(0, 0))
    assert none_yet.verdict == "insufficient_data" and none_yet.statement.startswith("not yet decided, asked too early")
    assert "the units in the action's scope nor those outside it" in none_yet.statement  # both after-periods empty
    with pytest.raises(ValueError, match="before_in: failures must be a non-negative number"):
        compare_rates(before_in=(-1, 10), after_in=(1, 10), before_out=(1, 10), after_out=(1, 10))
    with pytest.raises(ValueError, match="target_ratio must be in"):
        compare_rates(before_in=(1, 10), after_in=(1, 10), before_out=(1, 10), after_out=(1, 10), target_ratio=2)


def test_corrective_action_needs_a_scope_that_matches(service):
    desk = ComplaintDesk(service)
    with pytest.raises(ValueError, match="needs a scope"):
        desk.create_action(title="x", scope={}, applied_at=0.0, actor="eng")
    with pytest.raises(ValueError, match="unknown scope field"):
        desk.create_action(title="x", scope={"colour": "red"}, applied_at=0.0, actor="eng")
    with pytest.raises(ValueError, match="needs both serial_from and serial_to"):
        desk.create_action(title="x", scope={"serial_from": "P-1"}, applied_at=0.0, actor="eng")
    a = desk.create_action(title="x", scope={"batch": "nope"}, applied_at=0.0, actor="eng")
    # the scope in words, not a Python dict ({'batch': 'nope'})
    with pytest.raises(ValueError, match=rf"^the scope of corrective action {a['id']} \(batch nope\) matches no "
                                         "registered unit: nothing to verify$"):
        desk.verify_action(a["id"])
    with pytest.raises(ValueError, match=r"applied_at: -62135596800.0 s is out of range: expected a time between "
                                         r"1970-01-01 and 3000-01-01"):  # year 1: could never be verified
        desk.create_action(title="x", scope={"batch": "B7"}, applied_at=-62135596800.0, actor="eng")


def test_a_serial_range_no_unit_can_fall_in_is_refused_when_the_action_is_recorded(service):
    # P-0009..P-0001 was recorded and failed only at verification, naming the scope as a Python dict
    desk = ComplaintDesk(service)
    for scope, says in (
        ({"serial_from": "P-0009", "serial_to": "P-0001"},
         "serial_from 'P-0009' comes after serial_to 'P-0001': a serial range goes from its lowest serial"),
        ({"serial_from": "B", "serial_to": "A"}, "serial_from 'B' comes after serial_to 'A'"),
        ({"serial_from": "P-0001", "serial_to": "Q-0009"}, "serial_to: 'P-0001' and 'Q-0009' do not share a prefix"),
        ({"serial_from": "ABC", "serial_to": "P-0002"}, "serial_to: 'ABC' and 'P-0002' do not share a prefix"),
    ):
        with pytest.raises(ValueError, match=re.escape(says)):
            desk.create_action(title="x", scope=scope, applied_at=0.0, actor="eng")
    assert desk.list_actions() == []
    one = desk.create_action(title="x", scope={"serial_from": "P-9", "serial_to": "P-0010"}, applied_at=0.0,
                             actor="eng")  # numerically in order, whatever the text says
    assert one["scope"] == {"serial_from": "P-9", "serial_to": "P-0010"}


def test_a_scope_covering_every_unit_is_refused_as_it_leaves_nothing_to_compare_with(service):
    desk = ComplaintDesk(service)
    a = desk.create_action(title="New grease everywhere", scope={"model": "P-200"}, applied_at=0.0, actor="eng")
    with pytest.raises(ValueError, match="every registered unit is in the scope .* there is none outside it"):
        desk.verify_action(a["id"])
    assert desk.get_action(a["id"])["verdict"] is None  # no verdict stored
