"""The upgrade that makes serial numbers unique whatever their letter case (migration d1a2_serial_case), on a
database that already holds units in service registered twice in two letter cases, and the command line
that finds units by their serial in any case. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import func, insert, inspect, select

from devices.errors import RegistryError
from devices.models import SERIAL_INDEX, Unit
from devices.registry import Registry
from devices.serials import SerialCaseDuplicates
from foreshock.cli import main
from foreshock.db import _alembic_config, make_engine, migrate, session_factory, utcnow

SEEN_MS = 1_795_000_000_000  # 2026-11-18 11:06 UTC


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    """An empty database of this test's own (the session's PostgreSQL database is migrated already)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    from tests.servers import fresh_postgres_database

    yield from fresh_postgres_database()


def _old_database_with_twins(url: str):
    """A database of the release before: every branch at its head, the devices branch at d1a1; holding
    P-0002 (provisioned, seen) and p-0002 (auto-registered: its unit once published in lower case) in
    service, Q-1 in service beside a decommissioned q-1 (no conflict: one in service), and R-5."""
    from alembic.script import ScriptDirectory

    engine = make_engine(url)
    cfg = _alembic_config(engine)
    others = [h for h in ScriptDirectory.from_config(cfg).get_heads() if h != "d1a2_serial_case"]
    now = utcnow()
    base = {"tags": [], "auto_registered": False, "presence": "unknown", "presence_by_will": False,
            "created_at": now, "updated_at": now, "mqtt_password_hash": None, "last_seen_ms": None,
            "decommissioned_at": None}
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for head in [*others, "d1a1_presence_by_will"]:
            command.upgrade(cfg, head)
        conn.execute(insert(Unit.__table__), [
            {**base, "device_id": "P-0002", "mqtt_password_hash": "$7$101$x$y", "last_seen_ms": SEEN_MS},
            {**base, "device_id": "p-0002", "auto_registered": True},
            {**base, "device_id": "Q-1"},
            {**base, "device_id": "q-1", "decommissioned_at": now},
            {**base, "device_id": "R-5"},
        ])
    return engine


def _ids(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(Unit.device_id)))


def _has_serial_index(engine, name: str = SERIAL_INDEX) -> bool:
    with engine.connect() as conn:
        # SQLite's reflection skips expression indexes: ask its catalogue
        if conn.dialect.name == "sqlite":
            from sqlalchemy import text

            return conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = :n"), {"n": name}) == 1
        return name in {i["name"] for i in inspect(conn).get_indexes("device_units")}


def test_the_upgrade_refuses_a_database_with_twins_in_service_naming_them_and_the_command_then_applies(empty_db_url):
    engine = _old_database_with_twins(empty_db_url)
    with pytest.raises(SerialCaseDuplicates) as err:
        migrate(engine)
    text = str(err.value)
    assert "1 group(s) of units in service" in text
    assert ("'P-0002' (registered " in text and "provisioned, last seen 2026-11-18 11:06 UTC) and 'p-0002' (registered"
            in text and "auto-registered, not provisioned, never seen)" in text)
    assert "foreshock devices decommission p-0002\n" in text  # the provisioned, seen spelling is kept
    assert "Q-1" not in text and "nothing was changed" in text and "foreshock db upgrade" in text
    assert [[t.device_id for t in g] for g in err.value.groups] == [["P-0002", "p-0002"]]
    # nothing lost, nothing changed
    assert sorted(_ids(engine)) == ["P-0002", "Q-1", "R-5", "p-0002", "q-1"]
    assert not _has_serial_index(engine) and not _has_serial_index(engine, "ix_device_units_serial_key")

    registry = Registry(session_factory(engine))
    assert [[t.device_id for t in g] for g in registry.serial_case_duplicates()] == [["P-0002", "p-0002"]]
    with pytest.raises(RegistryError, match="'p-0002' is not provisioned: unit 'P-0002' in service"):
        registry.provision("p-0002")  # a second credential for the same machine
    registry.decommission("p-0002")
    migrate(engine)
    assert _has_serial_index(engine) and _has_serial_index(engine, "ix_device_units_serial_key")
    assert sorted(_ids(engine)) == ["P-0002", "Q-1", "R-5", "p-0002", "q-1"]
    assert registry.serial_case_duplicates() == []
    with pytest.raises(RegistryError, match="cannot go back in service: unit 'P-0002'"):
        registry.recommission("p-0002")
    # the downgrade takes the index away and keeps the rows
    cfg = _alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "d1a1_presence_by_will")
    assert not _has_serial_index(engine) and not _has_serial_index(engine, "ix_device_units_serial_key")
    assert len(_ids(engine)) == 5


def test_the_command_line_says_what_to_do_and_its_devices_commands_resolve_it(empty_db_url, monkeypatch, capsys):
    engine = _old_database_with_twins(empty_db_url)
    engine.dispose()
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", empty_db_url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("db", "upgrade")
    assert code == 1 and "Traceback" not in err
    assert err.startswith("foreshock: error: the database holds 1 group(s) of units in service")
    assert "foreshock devices decommission p-0002" in err

    code, out, err = run("devices", "list")  # the devices commands work meanwhile, and say why the upgrade waits
    assert code == 0 and "warning: 1 group(s) of units in service have serial numbers that differ only" in err
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "(same serial as p-0002 but for letter case)" in lines["P-0002"]
    assert "(same serial as P-0002 but for letter case)" in lines["p-0002"]
    assert "letter case" not in lines["R-5"] and "letter case" not in lines["Q-1"]

    code, out, err = run("devices", "decommission", "p-0002")  # the exact spelling names that unit
    assert code == 0 and "unit p-0002 decommissioned" in out
    code, out, err = run("db", "upgrade")
    assert code == 0 and "upgraded" in out and err == ""
    code, out, err = run("devices", "list", "--all")
    assert code == 0 and "letter case" not in out and "warning" not in err
    assert json.loads(run("devices", "show", "P-0002")[1])["device_id"] == "P-0002"
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Unit)) == 5


def test_devices_commands_find_a_unit_by_its_serial_in_any_letter_case(cli):
    run = cli
    assert run("add", "P-0001", "--customer", "ACME")[0] == 0
    code, out, err = run("add", "p-0001")
    assert code == 2 and "'p-0001' is already registered as 'P-0001'" in err
    assert json.loads(run("show", "p-0001")[1])["device_id"] == "P-0001"
    assert run("update", "p-0001", "--site", "Hall 2")[1] == "unit P-0001 updated\n"
    code, out, err = run("provision", "p-0001")
    assert code == 0 and out.startswith("username: P-0001\n")  # the broker compares usernames exactly
    assert "'p-0001' is registered as 'P-0001'" in err
    assert run("revoke", "p-0001")[1] == "unit P-0001: credential revoked\n"
    code, out, err = run("list", "--serial-from", "p-1", "--serial-to", "p-9")
    assert code == 0 and out.splitlines()[1].startswith("P-0001 ")
    assert run("decommission", "p-0001")[1] == "unit P-0001 decommissioned\n"
    assert run("recommission", "p-0001")[1].startswith("unit P-0001 is back in service")
    code, out, err = run("show", "p-0002")
    assert code == 2 and "no unit 'p-0002' is registered" in err
