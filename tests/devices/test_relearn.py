"""A request to relearn a unit's detector baseline, recorded on the unit row (``Registry.request_relearn``,
``foreshock devices relearn``), where the detection stage of whatever process reads it. The registry tests
run on SQLite and on PostgreSQL (the ``registry`` fixture)."""

from __future__ import annotations

import json
import time

import pytest

from devices.errors import InvalidInput, NotFound, RegistryError


def test_a_request_is_recorded_on_the_unit_with_who_why_and_when(registry):
    registry.create_unit("P-0001", customer="ACME")
    registry.create_unit("P-0002", customer="ACME")
    assert registry.relearn_request("P-0001") is None and registry.relearn_requests_since(None) == {}
    before = time.time()
    unit = registry.request_relearn("P-0001", accept_current=True, reason="  frame resonance  ", by="alice")
    after = time.time()
    req = registry.relearn_request("P-0001")
    assert req["accept_current"] is True and req["by"] == "alice" and req["reason"] == "frame resonance"
    assert before - 1 <= req["requested_at"] <= after + 1
    assert unit.relearn_by == "alice" and unit.relearn_accept is True
    assert registry.relearn_requests_since(None) == {"P-0001": req["requested_at"]}
    assert registry.relearn_requests_since(req["requested_at"] - 5) == {"P-0001": req["requested_at"]}
    assert registry.relearn_requests_since(req["requested_at"] + 5) == {}
    # a newer request replaces it (the stage applies a request newer than the one it applied)
    time.sleep(0.01)
    registry.request_relearn("P-0001")
    newer = registry.relearn_request("P-0001")
    assert newer["requested_at"] > req["requested_at"]
    assert (newer["accept_current"], newer["by"], newer["reason"]) == (False, None, None)
    assert registry.relearn_request("P-0002") is None and registry.relearn_request("NOPE") is None


def test_bad_requests_are_refused_naming_the_problem_and_change_nothing(registry):
    registry.create_unit("P-0001")
    with pytest.raises(NotFound, match="P-9"):
        registry.request_relearn("P-9")
    with pytest.raises(InvalidInput, match="reason: at most 500 characters, got 501"):
        registry.request_relearn("P-0001", reason="x" * 501)
    registry.create_unit("Q-1")
    registry.decommission("Q-1")
    with pytest.raises(RegistryError, match="'Q-1' was decommissioned on .*recommission it first"):
        registry.request_relearn("Q-1")
    assert registry.relearn_requests_since(None) == {}


def test_the_cli_asks_for_units_in_any_letter_case_and_show_says_so(cli):
    for serial in ("P-0001", "P-0002"):
        assert cli("add", serial, "--customer", "ACME")[0] == 0
    assert json.loads(cli("show", "P-0001")[1])["relearn"] is None
    code, out, err = cli("relearn", "p-0001", "P-0002", "--accept-current", "--reason", "frame resonance",
                         "--by", "alice")
    assert code == 0, err
    assert out.splitlines() == [
        "unit P-0001: baseline relearn requested, accepting the defect lines it shows now as its normal",
        "unit P-0002: baseline relearn requested, accepting the defect lines it shows now as its normal"]
    shown = json.loads(cli("show", "P-0001")[1])["relearn"]
    assert (shown["accept_current"], shown["by"], shown["reason"]) == (True, "alice", "frame resonance")
    assert shown["requested_at"].endswith("+00:00")
    code, out, err = cli("relearn", "P-0002", "--reason", "new bearing")
    assert code == 0, err
    shown = json.loads(cli("show", "P-0002")[1])["relearn"]
    assert shown["accept_current"] is False and shown["reason"] == "new bearing" and shown["by"]  # the login


def test_the_cli_asks_for_none_when_one_serial_is_unknown_or_out_of_service(cli):
    assert cli("add", "P-0001")[0] == 0
    assert cli("add", "Q-1")[0] == 0
    assert cli("decommission", "Q-1")[0] == 0
    for argv, said in ((("P-0001", "NOPE"), "no unit 'NOPE' is registered; no relearn was requested"),
                       (("P-0001", "q-1"), "Q-1 decommissioned: nothing to relearn; no relearn was requested")):
        code, _, err = cli("relearn", *argv)
        assert code == 2 and said in err and "Traceback" not in err
    assert json.loads(cli("show", "P-0001")[1])["relearn"] is None
