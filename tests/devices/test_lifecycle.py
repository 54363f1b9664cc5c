"""A unit's life in the registry as a fleet administrator lives it: decommissioned, re-commissioned,
exported with the decommissioned units and imported back, a large import that says how far it is."""

from __future__ import annotations

import io
import json
import re

import pytest

from devices.csvio import CsvImportError, export_units, import_units
from devices.errors import AlreadyExists, NotFound, RegistryError
from devices.query import UnitFilter
from devices.registry import Registry
from foreshock.db import make_engine, migrate, session_factory


def _fresh_registry(tmp_path) -> Registry:
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(engine)
    return Registry(session_factory(engine))


def test_an_import_row_for_a_decommissioned_unit_is_refused_not_silently_applied(registry, model):
    registry.create_unit("P-0001", model="P-200", customer="ACME")
    registry.create_unit("P-0002", customer="ACME")
    registry.decommission("P-0002")
    csv_text = "device_id,customer\nP-0001,Beta\nP-0002,Beta\n"
    # before: "0 created, 2 updated", and P-0002 stayed out of service under its new customer
    with pytest.raises(CsvImportError) as err:
        import_units(registry, io.StringIO(csv_text))
    assert [(e.line, e.field) for e in err.value.errors] == [(3, "device_id")]
    assert "'P-0002' was decommissioned on" in str(err.value)
    assert "foreshock devices recommission P-0002" in str(err.value)
    # all or nothing: the good row was not applied either
    assert registry.get_unit("P-0001").customer == "ACME"
    assert registry.get_unit("P-0002").customer == "ACME"


def test_an_export_with_decommissioned_units_imports_back_with_them_out_of_service(registry, model, tmp_path):
    registry.create_unit("P-0001", model="P-200", customer="ACME")
    registry.create_unit("P-0002", model="P-200", customer="ACME", site="Hall 1")
    registry.decommission("P-0002")
    text = export_units(registry, filt=UnitFilter(include_decommissioned=True))
    header, *rows = text.splitlines()
    assert header.endswith(",decommissioned_at")
    assert rows[0].endswith(",") and not rows[1].endswith(",")  # only P-0002 has a date
    assert export_units(registry).splitlines()[0].endswith(",tags")  # units in service: the columns as before

    # into another registry (a migration): before, P-0002 came back in service there
    other = _fresh_registry(tmp_path)
    other.create_model("P-200", rated_rpm=1480)
    assert import_units(other, io.StringIO(text)) == (2, 0)
    assert other.is_known("P-0001") and not other.is_known("P-0002")
    moved = other.get_unit("P-0002")
    assert moved.decommissioned_at is not None and moved.site == "Hall 1"
    assert moved.decommissioned_at.date() == registry.get_unit("P-0002").decommissioned_at.date()
    assert export_units(other, filt=UnitFilter(include_decommissioned=True)) == text

    # into the same registry: a round trip that changes nothing
    assert import_units(registry, io.StringIO(text)) == (0, 2)
    assert registry.get_unit("P-0002").decommissioned_at is not None
    assert export_units(registry, filt=UnitFilter(include_decommissioned=True)) == text


def test_an_import_does_not_take_a_unit_out_of_service_and_names_a_bad_date(registry, model):
    registry.create_unit("P-0001", customer="ACME")
    bad = "device_id,customer,decommissioned_at\nP-0001,ACME,2026-01-01\nP-0003,ACME,last week\n"
    with pytest.raises(CsvImportError) as err:
        import_units(registry, io.StringIO(bad))
    assert [(e.line, e.field) for e in err.value.errors] == [(2, "decommissioned_at"), (3, "decommissioned_at")]
    assert "'P-0001' is in service; an import does not take units out of service" in str(err.value)
    assert "got 'last week'" in str(err.value)
    assert registry.get_unit("P-0001").active and registry.get_unit("P-0003") is None


def test_a_decommissioned_unit_is_recommissioned_with_no_credential_and_a_fresh_presence(registry, model):
    registry.create_unit("P-0001", model="P-200")
    registry.provision("P-0001")
    registry.record_status("P-0001", "online", 1_000_000)
    registry.mark_seen("P-0001", 1_000_000)
    registry.decommission("P-0001")
    assert not registry.is_known("P-0001")

    with pytest.raises(AlreadyExists, match="to put this unit back in service: foreshock devices recommission P-0001"):
        registry.create_unit("P-0001")
    unit = registry.recommission("P-0001")
    assert unit.active and registry.is_known("P-0001")
    assert not unit.provisioned and registry.broker_credentials() == []  # provision it again
    assert (unit.presence, unit.last_seen_ms) == ("unknown", None)
    # not "silent" at once for what it last sent before it was taken out of service
    assert registry.silent_units(1_000_000 + 10 * 86_400_000) == []
    assert not registry.presence("P-0001", now_ms=1_000_000 + 10 * 86_400_000).silent
    registry.mark_seen("P-0001", 5_000_000)
    assert registry.presence("P-0001", now_ms=5_000_001).last_seen_ms == 5_000_000
    assert registry.provision("P-0001")  # a new credential is possible again

    # a unit in service is left as it is
    assert registry.recommission("P-0001").provisioned
    with pytest.raises(NotFound):
        registry.recommission("P-9999")


def test_a_large_import_says_how_far_it_is_and_a_small_one_says_nothing(registry, model):
    rows = "".join(f"P-{i:05d},P-200,ACME\n" for i in range(2500))
    said: list[str] = []
    assert import_units(registry, io.StringIO("device_id,model,customer\n" + rows), progress=said.append) == (2500, 0)
    assert said == ["2500 rows checked, importing", "1000/2500 units", "2000/2500 units",
                    "2500/2500 units; committing"]
    said.clear()
    assert import_units(registry, io.StringIO("device_id,customer\nP-1,ACME\n"), progress=said.append) == (1, 0)
    assert said == []


def test_recommission_and_a_large_import_from_the_command_line(cli, tmp_path):
    assert cli("add", "P-0001", "--customer", "ACME")[0] == 0
    assert cli("decommission", "P-0001")[0] == 0
    code, out, _ = cli("recommission", "P-0001")
    assert code == 0 and "back in service" in out and "foreshock devices provision P-0001" in out
    assert json.loads(cli("show", "P-0001")[1])["decommissioned_at"] is None
    code, out, _ = cli("recommission", "P-0001")
    assert code == 0 and "nothing changed" in out
    code, _, err = cli("recommission", "P-0404")
    assert code == 2 and "no unit 'P-0404'" in err

    big = tmp_path / "big.csv"
    big.write_text("device_id,customer\n" + "".join(f"Q-{i:05d},ACME\n" for i in range(1500)))
    code, out, err = cli("import", str(big))
    assert code == 0 and "1500 unit(s) created" in out
    assert f"{big}: 1500 rows checked, importing" in err and f"{big}: 1500/1500 units; committing" in err


def test_list_and_show_say_a_unit_is_silent_beside_the_online_its_last_status_said(cli, tmp_path, monkeypatch):
    # A unit whose credential was rotated or revoked is cut off by the broker at the reload without a
    # last will (Mosquitto 2.0.11), so its presence stays "online"; the deadman's view is shown beside it.
    from devices.cli import open_registry
    from devices.protocol import now_ms
    from foreshock.settings import load_settings

    assert cli("models", "add", "--name", "P-200", "--reporting-interval-s", "60")[0] == 0
    assert cli("add", "P-0001", "--model", "P-200")[0] == 0
    assert cli("add", "P-0002", "--model", "P-200")[0] == 0
    reg = open_registry(load_settings())
    now = now_ms()
    reg.record_status("P-0001", "online", now - 600_000)
    reg.mark_seen("P-0001", now - 600_000)
    reg.record_status("P-0002", "online", now - 1_000)
    reg.mark_seen("P-0002", now - 1_000)
    reg.session_factory.kw["bind"].dispose()

    code, out, _ = cli("list")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert code == 0 and "online" in rows["P-0001"] and re.search(r"\(silent 1\d min\)$", rows["P-0001"])
    assert "silent" not in rows["P-0002"]
    listed = {u["device_id"]: u for u in json.loads(cli("list", "--json")[1])}
    assert listed["P-0001"]["presence"] == "online" and listed["P-0001"]["silent"] is True
    assert listed["P-0001"]["silent_for_s"] >= 600
    assert (listed["P-0002"]["silent"], listed["P-0002"]["silent_for_s"]) == (False, None)
    shown = json.loads(cli("show", "P-0001")[1])
    assert shown["silent"] is True and shown["silent_for_s"] >= 600
    assert json.loads(cli("show", "P-0002")[1])["silent"] is False


def test_a_scrap_list_is_decommissioned_in_one_command_and_a_typo_in_it_takes_none_out(cli):
    for serial in ("P-0001", "P-0002", "P-0003"):
        assert cli("add", serial)[0] == 0
    assert cli("decommission", "P-0003")[0] == 0
    # before: one serial per command; a list was "unrecognized arguments"
    code, _, err = cli("decommission", "P-0001", "P-0020", "P-0002")
    assert code == 2 and "no unit 'P-0020' is registered; nothing was decommissioned" in err
    assert [u["device_id"] for u in json.loads(cli("list", "--json")[1])] == ["P-0001", "P-0002"]
    code, out, err = cli("decommission", "P-0001", "P-0002", "P-0003", "P-0001")
    assert code == 0 and out.splitlines()[:2] == ["unit P-0001 decommissioned", "unit P-0002 decommissioned"]
    assert out.splitlines()[2].startswith("unit P-0003 was already decommissioned on ")
    assert "write-broker-config" in err
    assert json.loads(cli("list", "--json")[1]) == []


def test_remove_model_refuses_while_a_decommissioned_unit_has_it(registry, model):
    registry.create_unit("P-0001", model="P-200")
    registry.decommission("P-0001")
    with pytest.raises(RegistryError, match=r"is the model of 1 unit\(s\) \(P-0001\)"):
        registry.remove_model("P-200")
    registry.update_unit("P-0001", model=None)
    registry.remove_model("P-200")
    assert registry.get_model("P-200") is None and registry.get_unit("P-0001").model is None


def test_the_units_sold_last_quarter_are_provisioned_in_one_command(cli):
    from devices.cli import open_registry
    from devices.credentials import verify_password
    from foreshock.settings import load_settings

    devices = cli

    for serial in ("P-1", "P-2", "P-3", "P-4"):
        assert devices("add", serial)[0] == 0
    assert devices("decommission", "P-4")[0] == 0
    old = devices("provision", "P-1")[1].splitlines()[1].split()[1]  # one unit: as before
    # before: one serial per command ("unrecognized arguments"), a process start for each of thousands
    code, _, err = devices("provision", "P-2", "P-9", "P-3")
    assert code == 2 and "no unit 'P-9' is registered; no unit was provisioned" in err
    code, _, err = devices("provision", "P-2", "P-4")
    assert code == 2 and "'P-4' is decommissioned and cannot be provisioned; no unit was provisioned" in err
    reg = open_registry(load_settings())
    assert [u.device_id for u in reg.list_units() if u.provisioned] == ["P-1"]

    code, out, err = devices("provision", "--unprovisioned")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "username,password" and [x.split(",")[0] for x in lines[1:]] == ["P-2", "P-3"]
    assert "2 unit(s) provisioned" in err
    for line in lines[1:]:
        serial, password = line.split(",")
        assert verify_password(password, reg.get_unit(serial).mqtt_password_hash)
    assert verify_password(old, reg.get_unit("P-1").mqtt_password_hash)  # not rotated by --unprovisioned
    code, out, _ = devices("provision", "--unprovisioned")
    assert code == 0 and out == "username,password\n"
    code, _, err = devices("provision")
    assert code == 2 and "give the serial numbers of the units to provision, or --unprovisioned" in err
    reg.session_factory.kw["bind"].dispose()


def test_an_import_says_how_many_units_it_found_already_as_in_the_file(registry, model, cli, tmp_path):
    text = "device_id,model,customer,tags\nP-0001,P-200,ACME,a;b\nP-0002,P-200,ACME,\n"
    assert import_units(registry, io.StringIO(text)).unchanged == 0
    again = import_units(registry, io.StringIO(text.replace("P-0002,P-200,ACME", "P-0002,P-200,Beta")))
    assert again == (0, 2) and again.unchanged == 1  # P-0001 as it was; P-0002 changed
    assert registry.get_unit("P-0002").customer == "Beta"

    csv_file = tmp_path / "q3.csv"
    csv_file.write_text("device_id,customer\nQ-1,ACME\nQ-2,ACME\n")
    assert cli("import", str(csv_file))[1] == "2 unit(s) created, 0 updated\n"
    csv_file.write_text("device_id,customer\nQ-1,ACME\nQ-2,Beta\nQ-3,ACME\n")
    # before: "1 unit(s) created, 2 updated" whether or not anything had changed
    assert cli("import", str(csv_file))[1] == "1 unit(s) created, 2 updated (1 of them already as in the file)\n"
