"""A PostgreSQL role that may connect but not create tables: a database made by the DBA and handed over with
`GRANT ALL ON DATABASE` (which, since PostgreSQL 15, gives no CREATE on its schema public). Every command
stopped with a ProgrammingError traceback ("permission denied for schema public")."""

from __future__ import annotations

import uuid

import pytest

from foreshock.cli import main
from tests.servers import create_postgres_database


@pytest.fixture
def database_of_another_role():
    """(url as a role that may connect but not create, role name); the database belongs to the admin."""
    psycopg = pytest.importorskip("psycopg")
    made = create_postgres_database()
    if isinstance(made, str):
        pytest.skip(made)
    url, drop = made
    role = f"fs_noprivs_{uuid.uuid4().hex[:8]}"
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD \'pw-{role}\'')
        conn.execute(f'GRANT ALL ON DATABASE "{url.rsplit("/", 1)[1]}" TO "{role}"')
    host = url.split("@", 1)[1]
    yield f"postgresql+psycopg://{role}:pw-{role}@{host}", role
    drop()
    with psycopg.connect(admin.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.integration
def test_a_role_without_the_privilege_to_create_the_tables_is_named_with_the_fix(database_of_another_role,
                                                                                  monkeypatch, capsys, tmp_path):
    url, role = database_of_another_role
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    for argv in (["db", "upgrade"], ["devices", "list"], ["run", "--no-api"]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"pw-{role}" not in err, err
        assert err.startswith(f"foreshock: error: cannot use the database postgresql+psycopg://{role}:***@"), err
        assert "permission denied for schema public" in err, err
        assert "make it the owner of the database" in err and "FORESHOCK_DATABASE__URL" in err, err
