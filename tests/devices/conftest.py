"""Fixtures of the registry tests: a migrated store on SQLite and on PostgreSQL.

Migrating takes the better part of a second, so each backend is migrated once per session: SQLite
tests get a copy of a migrated file, PostgreSQL tests share one schema of their own (no other
package's tests see it) whose registry tables are emptied before each test.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
from sqlalchemy import text

from devices.registry import Registry
from foreshock.cli import main
from foreshock.db import make_engine, migrate, session_factory


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("devices-db") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_schema(postgres_url):
    schema = f"devices_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    migrate(eng)
    yield eng
    eng.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url, request, tmp_path):
    """A migrated engine with empty registry tables."""
    if db_url.startswith("postgresql"):
        eng = request.getfixturevalue("_pg_schema")
        with eng.begin() as conn:
            conn.execute(text("TRUNCATE device_units, device_models RESTART IDENTITY CASCADE"))
        yield eng
    else:
        path = tmp_path / "devices.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()


@pytest.fixture
def registry(engine) -> Registry:
    return Registry(session_factory(engine))


@pytest.fixture
def model(registry):
    return registry.create_model(
        "P-200", rated_rpm=1480, bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04}, iso_group=2,
        reporting_interval_s=60, zone_limits_mm_s=[2.3, 4.5, 7.1], sensors=["accel_x", "temperature_c"],
        detector_config={"warmup": 50},
    )


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """``foreshock devices ARGS`` on a fresh SQLite database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'cli.db'}")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["devices", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run
