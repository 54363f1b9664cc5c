from __future__ import annotations

import subprocess
import sys

import pytest

from foreshock import __version__
from foreshock.cli import main


def test_version(capsys):
    assert main(["version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "run", "version"):
        assert command in out


def test_no_command_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_bad_setting_goes_to_stderr_with_nonzero_exit(monkeypatch, capsys):
    monkeypatch.setenv("FORESHOCK_API__PORT", "not-a-port")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "api.port" in err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "foreshock", "version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"foreshock {__version__}"


def test_db_upgrade_is_idempotent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
