"""A database upgraded by a newer Foreshock, opened by this one (the code rolled back after an upgrade, or
an older copy of the command on another host): every command failed with alembic's traceback ending in
"Can't locate revision identified by '…'", which says neither what happened nor what to do."""

from __future__ import annotations

from sqlalchemy import text

from foreshock import __version__
from foreshock.cli import main
from foreshock.db import make_engine, migrate


def test_a_database_from_a_newer_version_is_named_with_what_to_do_and_left_as_it_is(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'fs.db'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:  # as a later release's migration on the devices branch leaves it
        conn.execute(text("UPDATE alembic_version SET version_num = 'd9_from_a_newer_release' "
                          "WHERE version_num = 'd1a3_relearn'"))
        before = sorted(conn.scalars(text("SELECT version_num FROM alembic_version")))
    engine.dispose()
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    for argv in (["db", "upgrade"], ["devices", "list"], ["token", "list"], ["run", "--no-api"]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and "Can't locate revision" not in err, err
        assert err.startswith(f"foreshock: error: the database {url} was upgraded by a newer version of Foreshock "
                              f"than this one ({__version__}): it is at revision 'd9_from_a_newer_release', which "
                              "this version does not know."), err
        assert "restore the backup taken before that upgrade" in err and "FORESHOCK_DATABASE__URL" in err, err
    with make_engine(url).connect() as conn:
        assert sorted(conn.scalars(text("SELECT version_num FROM alembic_version"))) == before
    assert (tmp_path / "data" / "foreshock.lock").read_text() == ""  # run released its lock
