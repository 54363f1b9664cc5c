"""A database URL with a '%' in it: a password with special characters written as the URL standard says,
percent-encoded (`p%23ss` for `p#ss`), or a SQLite file under a folder named `50%`. Every command failed with
configparser's "invalid interpolation syntax in 'postgresql+psycopg://user:p%23ss@…'", which named no setting
and printed the password."""

from __future__ import annotations

import pytest

from foreshock.cli import main
from tests.servers import fresh_postgres_database


def test_a_sqlite_file_in_a_folder_with_a_percent_sign_is_used(tmp_path, monkeypatch, capsys):
    data = tmp_path / "50%-full"
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(data))
    assert main(["db", "upgrade"]) == 0, capsys.readouterr().err
    assert main(["devices", "add", "P-0001"]) == 0, capsys.readouterr().err
    assert (data / "foreshock.db").is_file()


@pytest.fixture
def empty_postgres():
    yield from fresh_postgres_database()


@pytest.mark.integration
def test_a_percent_encoded_password_in_a_postgresql_url_is_used_and_never_printed(empty_postgres, monkeypatch,
                                                                                   capsys):
    user_and_rest = empty_postgres.split("://", 1)[1]
    user, rest = user_and_rest.split("@", 1)
    user = user.split(":", 1)[0]
    url = f"postgresql+psycopg://{user}:p%23ss%2Fw%40rd@{rest}"  # the password p#ss/w@rd, as the URL standard writes it
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
    assert main(["db", "upgrade"]) == 0
    out, err = capsys.readouterr()
    assert "upgraded (now at" in out and "p%23ss" not in out + err and "p#ss" not in out + err, (out, err)
