"""Serial numbers that differ only in letter case are one serial: "p-0002" typed by a service technician,
or in an ERP's export, is unit P-0002, not a second unit with a second credential and half the history.
Each test runs on SQLite and on PostgreSQL (the ``registry`` fixture)."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from devices.csvio import CsvImportError, import_units
from devices.errors import AlreadyExists, InvalidInput, NotFound, RegistryError
from devices.models import Unit
from devices.query import UnitFilter
from devices.schemas import UnitIn
from foreshock.db import utcnow


def _count(registry) -> int:
    with registry.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(Unit)))


def test_registering_a_serial_in_another_letter_case_is_refused_naming_the_registered_unit(registry):
    registry.create_unit("P-0002", customer="ACME")
    with pytest.raises(AlreadyExists, match=r"'p-0002' is already registered as 'P-0002'.*letter case"):
        registry.create_unit("p-0002", customer="ACME")  # before: a second unit, with its own credential
    registry.create_unit("Q-7")
    registry.decommission("Q-7")
    # a decommissioned unit keeps its serial (history points at it), in any letter case
    with pytest.raises(AlreadyExists, match=r"registered as 'Q-7' \(decommissioned on .*recommission Q-7"):
        registry.create_unit("q-7")
    assert [u.device_id for u in registry.list_units(include_decommissioned=True)] == ["P-0002", "Q-7"]


def test_a_unit_is_found_by_its_serial_in_any_letter_case_and_answers_with_the_registered_spelling(registry):
    registry.create_unit("AbC-12", customer="ACME")
    assert registry.find_unit("abc-12").device_id == "AbC-12"
    assert registry.find_unit("ABC-12").customer == "ACME"
    assert registry.find_unit("AbC-12").device_id == "AbC-12"
    assert registry.find_unit("abc-13") is None
    assert registry.registered_serial("ABC-12") == "AbC-12"
    assert registry.registered_serials(["abc-12", "AbC-12", "nope"]) == {"abc-12": "AbC-12", "AbC-12": "AbC-12"}
    with pytest.raises(NotFound, match="no unit 'abc-13'"):
        registry.registered_serial("abc-13")
    # the methods that take the serial as registered say how it is registered
    with pytest.raises(NotFound, match=r"no unit 'abc-12' is registered \(its serial is registered as 'AbC-12'"):
        registry.require_unit("abc-12")
    with pytest.raises(NotFound, match="registered as 'AbC-12'"):
        registry.update_unit("abc-12", customer="Beta")
    assert registry.get_unit("abc-12") is None  # exact: what other parts check a stored id with


def test_a_serial_range_matches_whatever_the_letter_case(registry):
    for serial in ("P-0098", "P-0100", "p-0101", "Q-0100"):
        registry.create_unit(serial)
    # PostgreSQL's LIKE is case-sensitive: the range "p-98".."p-120" found nothing there
    assert registry.unit_ids(UnitFilter(serial_from="p-98", serial_to="p-120")) == ["P-0098", "P-0100", "p-0101"]
    assert registry.unit_ids(UnitFilter(serial_from="P-98", serial_to="P-120")) == ["P-0098", "P-0100", "p-0101"]


def test_auto_register_refuses_another_spelling_of_a_registered_serial_and_warns_once(registry, caplog):
    registry.create_unit("P-0002")
    with caplog.at_level(logging.WARNING, logger="devices.serials"):
        assert registry.auto_register("p-0002") is False
        assert registry.auto_register("p-0002") is False
    assert registry.get_unit("p-0002") is None and _count(registry) == 1
    warnings = [r.getMessage() for r in caplog.records if "p-0002" in r.getMessage()]
    assert len(warnings) == 1 and "registered as P-0002" in warnings[0]
    assert registry.auto_register("P-0003") is True and registry.is_known("P-0003")
    assert registry.auto_register("P-0003") is True


def test_an_import_refuses_each_row_whose_serial_is_registered_or_given_before_in_another_case(registry):
    registry.create_unit("P-0002", customer="ACME")
    csv_text = ("device_id,customer\n"
                "P-0001,Beta\n"
                "p-0002,Beta\n"       # the registered P-0002 typed in lower case
                "Q-1,Gamma\n"
                "q-1,Gamma\n")        # the same serial twice in the file
    with pytest.raises(CsvImportError) as err:
        import_units(registry, io.StringIO(csv_text))
    assert [(e.line, e.field) for e in err.value.errors] == [(3, "device_id"), (5, "device_id")]
    problems = [e.problem for e in err.value.errors]
    assert "'p-0002' is registered as 'P-0002'" in problems[0]
    assert "'q-1' already appears on line 4 as 'Q-1'" in problems[1]
    assert _count(registry) == 1 and registry.get_unit("P-0002").customer == "ACME"  # nothing imported
    # the rows written as registered import
    assert import_units(registry, io.StringIO("device_id,customer\nP-0001,Beta\nP-0002,Beta\nQ-1,Gamma\n")) == (2, 1)


def test_upsert_refuses_a_new_unit_whose_serial_is_registered_in_another_case(registry):
    registry.create_unit("P-0002")
    with pytest.raises(InvalidInput, match="'p-0002': its serial is registered, or given before, as 'P-0002'"):
        registry.upsert_units([("P-0001", UnitIn()), ("p-0002", UnitIn())])
    with pytest.raises(InvalidInput, match="'x-1': its serial is registered, or given before, as 'X-1'"):
        registry.upsert_units([("X-1", UnitIn()), ("x-1", UnitIn())])
    assert _count(registry) == 1


def test_the_database_allows_one_unit_in_service_per_serial_whatever_its_case(registry):
    """Writers that bypass the registry's checks (two racing, or another tool) meet the unique index."""
    from devices.errors import AmbiguousSerial

    registry.create_unit("P-0002")
    row = {"tags": [], "auto_registered": False, "presence": "unknown", "presence_by_will": False,
           "created_at": utcnow(), "updated_at": utcnow()}
    with registry.session_factory() as s, pytest.raises(IntegrityError):
        s.execute(insert(Unit).values(device_id="p-0002", **row))
        s.commit()
    with registry.session_factory() as s:  # a decommissioned one keeps its serial as it was
        s.execute(insert(Unit).values(device_id="p-0002", decommissioned_at=utcnow(), **row))
        s.commit()
    assert _count(registry) == 2
    # ... and cannot come back into service beside the one in service: refused by name, not an IntegrityError
    with pytest.raises(RegistryError, match=r"'p-0002' cannot go back in service: unit 'P-0002'"):
        registry.recommission("p-0002")
    registry.decommission("P-0002")
    assert registry.recommission("p-0002").active
    # each spelling finds its own unit; a third spelling of a serial two units share is ambiguous
    assert registry.find_unit("p-0002").device_id == "p-0002"
    assert registry.find_unit("P-0002").device_id == "P-0002"
    registry.create_unit("AB-1")
    with registry.session_factory() as s:
        s.execute(insert(Unit).values(device_id="ab-1", decommissioned_at=utcnow(), **row))
        s.commit()
    with pytest.raises(AmbiguousSerial, match="'Ab-1' matches units 'AB-1', 'ab-1'"):
        registry.find_unit("Ab-1")
    with pytest.raises(AmbiguousSerial, match="'Ab-1' matches units 'AB-1', 'ab-1'"):
        registry.registered_serials(["Ab-1"])


def test_the_serials_module_examples_run():
    import doctest

    import devices.serials

    result = doctest.testmod(devices.serials)
    assert result.attempted > 0 and result.failed == 0
