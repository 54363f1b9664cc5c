"""An upgrade that a migration refuses part-way changes nothing, on SQLite too.

pysqlite (Python's sqlite3, legacy transaction control) emits no BEGIN before DDL: the DDL of the first
migration of a run was committed on its own, before the first DML began a transaction. An upgrade refused
later in the run (``d1a2_serial_case`` refuses while units in service are registered twice in two letter
cases) rolled back the version rows but left that DDL: ``api_tokens`` created and unrecorded, and the next
upgrade failed with "table api_tokens already exists".
"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import delete, insert, inspect, text

from devices.models import Unit
from devices.serials import SerialCaseDuplicates
from foreshock.db import _alembic_config, make_engine, upgrade, utcnow


def _old_database(url: str):
    """A database of an older release on several branches: core, ingest and alerts at their heads, no api
    branch yet (no ``api_tokens``), devices up to d1a3_relearn but without d1a2, holding P-0002 and p-0002 in service (twins)."""
    engine = make_engine(url)
    cfg = _alembic_config(engine)
    heads = ScriptDirectory.from_config(cfg).get_heads()
    older = [h for h in heads if not h.startswith(("a2_", "a1_", "d1a2"))] + ["d1a1_presence_by_will"]
    now = utcnow()
    base = {"tags": [], "auto_registered": False, "presence": "unknown", "presence_by_will": False,
            "created_at": now, "updated_at": now, "mqtt_password_hash": None, "last_seen_ms": None,
            "decommissioned_at": None}
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for head in older:
            command.upgrade(cfg, head)
        conn.execute(insert(Unit.__table__), [{**base, "device_id": "P-0002"}, {**base, "device_id": "p-0002"}])
    return engine


def _schema(engine) -> tuple[list[str], list[str]]:
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        versions = sorted(conn.scalars(text("SELECT version_num FROM alembic_version")))
    return tables, versions


def test_a_refused_upgrade_on_sqlite_leaves_every_branch_as_it_was_and_the_next_one_applies(tmp_path):
    engine = _old_database(f"sqlite:///{tmp_path / 'old.db'}")
    before = _schema(engine)
    assert "api_tokens" not in before[0] and "d1a3_relearn" in before[1]
    with pytest.raises(SerialCaseDuplicates):
        upgrade(engine)
    assert _schema(engine) == before  # the old code: api_tokens created, its revision not recorded
    with engine.begin() as conn:  # the twin resolved as the refusal says
        conn.execute(delete(Unit.__table__).where(Unit.__table__.c.device_id == "p-0002"))
    applied = upgrade(engine)  # the old code: "table api_tokens already exists"
    assert "d1a2_serial_case" in applied and "a2_api_token_expiry" in applied
    tables, versions = _schema(engine)
    assert "api_tokens" in tables
    assert set(versions) == set(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    engine.dispose()
