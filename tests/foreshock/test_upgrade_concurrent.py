"""Two processes upgrading one PostgreSQL database at once: after an upgrade of Foreshock, `foreshock run` (or
two of them, ingest workers sharing the load) starting while an operator runs a `foreshock-admin` command.
Every command migrates first; both read the old revisions, both created the same tables, and one failed with
a traceback (`UniqueViolation: duplicate key value violates unique constraint "pg_type_typname_nsp_index"`,
seen in 3 of 4 tries of `foreshock db upgrade` beside `foreshock devices list` on a fresh database)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from foreshock.db import make_engine, upgrade
from tests.servers import fresh_postgres_database

WAIT_FOR_THE_OTHER_S = 10.0  # how long the first waits, inside its migration, for the second to get there too

# The first process: inside its upgrade's transaction, it says so and waits for the second to get as far.
FIRST = """
import sys, time
from pathlib import Path
from alembic import command
from foreshock.db import make_engine, upgrade

inside, other = Path(sys.argv[2]), Path(sys.argv[3])
real = command.upgrade

def meeting_the_other(cfg, revision, **kw):
    inside.touch()
    deadline = time.monotonic() + float(sys.argv[4])
    while not other.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return real(cfg, revision, **kw)

command.upgrade = meeting_the_other
print(",".join(upgrade(make_engine(sys.argv[1]))))
"""


@pytest.fixture
def empty_postgres():
    yield from fresh_postgres_database()


@pytest.mark.integration
def test_two_upgrades_at_once_take_turns(empty_postgres, tmp_path, monkeypatch):
    from alembic import command

    inside, other = tmp_path / "first-inside", tmp_path / "second-inside"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    first = subprocess.Popen([sys.executable, "-c", FIRST, empty_postgres, str(inside), str(other),
                              str(WAIT_FOR_THE_OTHER_S)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
    try:
        while not inside.exists() and first.poll() is None:
            time.sleep(0.05)
        assert inside.exists(), first.communicate()
        real = command.upgrade

        def second_gets_there(cfg, revision, **kw):
            other.touch()
            return real(cfg, revision, **kw)

        monkeypatch.setattr(command, "upgrade", second_gets_there)
        engine = make_engine(empty_postgres)
        try:
            second = upgrade(engine)  # old code: raised IntegrityError / ProgrammingError here, or the first did
        finally:
            engine.dispose()
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert out.strip(), err  # the first applied the migrations
    assert second == []  # the second waited for them, then found nothing to do
    with make_engine(empty_postgres).connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == len(out.strip().split(","))
