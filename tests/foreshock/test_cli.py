from __future__ import annotations

import subprocess
import sys

import pytest

from foreshock import __version__
from foreshock.cli import main


def test_version(capsys):
    assert main(["version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_version_as_an_option_as_every_server_program_has_it(capsys):
    """`foreshock --version` (what an operator types first, and what a config-management check runs) was
    'unrecognized arguments: --version', exit code 2."""
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"foreshock {__version__}"


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "run", "version"):
        assert command in out


def test_the_settings_file_and_log_level_may_follow_the_command(tmp_path, monkeypatch, capsys):
    """`foreshock run --config foreshock.toml`, as one types it, was refused ('unrecognized arguments:
    --config foreshock.toml'); before a command's positional argument the file was taken for it."""
    monkeypatch.delenv("FORESHOCK_DATABASE__URL", raising=False)
    monkeypatch.delenv("FORESHOCK_DATA_DIR", raising=False)
    cfg = tmp_path / "foreshock.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "sqlite:///{tmp_path / "fs.db"}"\n')
    assert main(["--config", str(cfg), "devices", "add", "P-0001"]) == 0
    capsys.readouterr()
    assert main(["devices", "list", "--config", str(cfg), "--log-level", "WARNING"]) == 0
    assert "P-0001" in capsys.readouterr().out
    assert main(["devices", "show", f"--config={cfg}", "P-0001"]) == 0  # before the positional argument
    assert '"device_id": "P-0001"' in capsys.readouterr().out
    assert main(["devices", "show", "--config", str(cfg), "P-0001"]) == 0
    assert '"device_id": "P-0001"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:  # still checked as foreshock's own option
        main(["devices", "list", "--config", str(cfg), "--log-level", "LOUD"])
    assert bad.value.code == 2 and "argument --log-level: invalid choice: 'LOUD'" in capsys.readouterr().err


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


@pytest.mark.parametrize("module", ["foreshock", "foreshock.cli"])
def test_a_usage_error_is_a_message_not_a_traceback_however_the_cli_is_started(module, tmp_path):
    """`python -m foreshock.cli` ran the module as __main__, a second copy whose CliError the
    commands' errors were not: `evaluate /missing` ended in a traceback."""
    out = subprocess.run([sys.executable, "-m", module, "evaluate", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "missing: no such file or folder" in out.stderr, out.stderr


def test_db_upgrade_is_idempotent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["db", "upgrade"]) == 0
    assert "upgraded (now at " in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "is up to date (nothing to do)" in capsys.readouterr().out


def test_commands_do_not_print_alembics_set_up_chatter(tmp_path):
    # every command migrates first; alembic logged ~9 INFO lines (plugin set-up, context) each time
    import os

    env = {**os.environ, "FORESHOCK_DATABASE__URL": f"sqlite:///{tmp_path / 'x.db'}", "FORESHOCK_LOG_LEVEL": "INFO"}
    first = subprocess.run([sys.executable, "-m", "foreshock", "devices", "list"], capture_output=True, text=True,
                           env=env, check=True)
    assert "alembic" not in first.stderr
    assert "foreshock.db: database sqlite:///" in first.stderr and "upgraded to" in first.stderr  # what was done
    again = subprocess.run([sys.executable, "-m", "foreshock", "devices", "list"], capture_output=True, text=True,
                           env=env, check=True)
    assert again.stderr.strip() == "0 unit(s)"


def test_unknown_option_of_a_subcommand_shows_that_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["tickets", "move", "PF202611001", "--to", "triaged"])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert "usage: foreshock tickets move" in err  # it shows that the state is a positional argument
    assert "unrecognized arguments: --to" in err


def test_unknown_option_before_the_command_shows_the_top_level_usage(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["--bogus", "version"])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert "usage: foreshock [-h]" in err and "unrecognized arguments: --bogus" in err


def test_an_unwritable_output_folder_is_an_error_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["simulate", "demo", "--out", str(blocker / "runs"), "--duration", "1h", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("foreshock: error: ") and str(blocker / "runs") in err
    assert "Traceback" not in err


def test_an_unreachable_database_is_named_without_its_password_and_no_traceback(monkeypatch, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"postgresql+psycopg://fs:s3cret@127.0.0.1:{port}/fs")
    assert main(["devices", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"foreshock: error: cannot use the database postgresql+psycopg://fs:***@127.0.0.1:{port}/fs: ")
    assert "FORESHOCK_DATABASE__URL" in err
    assert "s3cret" not in err and "Traceback" not in err


def test_demo_refuses_a_data_folder_an_earlier_demo_used(tmp_path, capsys):
    """A second demo on the same --data-dir replays the same simulated hours before now: every message is
    older than what the first run's detectors learnt, so none was assessed (six 'stored but not assessed'
    warnings) and the demo reported the first run's ticket as opened after 2 s."""
    used = tmp_path / "d"
    used.mkdir()
    (used / "foreshock.db").write_bytes(b"")
    assert main(["demo", "--duration", "1", "--no-api", "--data-dir", str(used)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"foreshock: error: --data-dir {used} holds an earlier demo's data")
    assert "give a new or empty folder" in err
    assert sorted(p.name for p in used.iterdir()) == ["foreshock.db"]  # nothing started, nothing written


@pytest.mark.slow
def test_demo_ends_after_its_duration_when_the_simulator_falls_behind(tmp_path, monkeypatch, capsys):
    """`foreshock demo --duration 20 --speed 20000` ran 82 s, not 20, still saying '4.6 simulated days in 20 s':
    the simulator could not publish that fast, and the demo waited for it to finish the whole span."""
    import threading

    import simulator.publisher

    stopped: list[bool] = []

    class SlowPublisher:
        """Never gets through its span: it returns when told to stop (or after 30 s, told nothing)."""

        def __init__(self, fleet, url, *, speed, start_ms, **kw) -> None:
            self.start_ms = start_ms
            self.stats = {"messages": 0, "sim_time_ms": start_ms}

        def run(self, duration_s, stop_event: threading.Event):
            self.stats["messages"], self.stats["sim_time_ms"] = 1234, self.start_ms + 3_600_000
            stopped.append(stop_event.wait(30))
            return None

    monkeypatch.setattr(simulator.publisher, "FleetPublisher", SlowPublisher)
    assert main(["demo", "--duration", "1", "--speed", "86400", "--no-api", "--embedded-broker",
                 "--progress-interval", "0.2", "--data-dir", str(tmp_path / "d")]) == 0
    assert stopped == [True]  # stopped by the demo at its duration, not left to run on
    out = capsys.readouterr().out
    assert "the simulator fell behind: in 1 s it published 1,234 messages, up to simulated " in out, out
    assert "of the 1.0 simulated days asked for; a lower --speed keeps up" in out, out


@pytest.mark.slow
def test_demo_says_where_its_data_stays(tmp_path, capsys):
    # the demo's temporary folders stayed behind in /tmp without a word
    assert main(["demo", "--duration", "2", "--no-api", "--embedded-broker", "--data-dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"data        kept in {tmp_path / 'd'}")



PROBE_COMMAND = """
import logging


def register(sub):
    sub.add_parser("probe").set_defaults(func=_probe)


def _probe(args, settings):
    logging.getLogger("httpx").info("HTTP Request: POST http://influx:8086/write 204 No Content")
    logging.getLogger("httpx").warning("HTTP retry after a timeout")
    return 0
"""


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_http_requests_to_the_telemetry_store_are_not_logged_one_line_each_at_info(
    level, shown, tmp_path, monkeypatch, caplog
):
    """With the influx backends every write was an INFO line of httpx ('HTTP Request: POST .../write ...
    204 No Content'), many a second under load; now only with --log-level DEBUG (warnings always)."""
    import logging

    import foreshock.cli as cli_module

    (tmp_path / "qa_probe_command.py").write_text(PROBE_COMMAND)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli_module.COMMANDS, "probe", "qa_probe_command")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'x.db'}")
    for name in cli_module._HTTP_CLIENT_LOGGERS:  # restored after the test
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    caplog.set_level(logging.DEBUG)
    assert main(["--log-level", level, "probe"]) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("HTTP Request: POST" in m for m in messages) is shown
    assert "HTTP retry after a timeout" in messages


def test_a_value_that_starts_with_a_dash_is_explained(capsys):
    """``--duration -1h`` was only "expected one argument": argparse reads -1h as an option."""
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "demo", "--duration", "-1h"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --duration: expected one argument (a value that starts with '-' is written --duration=VALUE)" in err


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    """``foreshock devices export | head`` ended with "foreshock: error: [Errno 32] Broken pipe"."""
    import os

    from devices.registry import Registry
    from foreshock.db import make_engine, migrate, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    registry = Registry(session_factory(engine))
    for i in range(3000):  # far more than a pipe holds (64 KB)
        registry.create_unit(f"P-{i:05d}", customer="ACME Pumps and Compressors", site="Hall 7, line 3")
    engine.dispose()
    env = {**os.environ, "FORESHOCK_DATABASE__URL": f"sqlite:///{tmp_path / 'r.db'}"}
    proc = subprocess.Popen([sys.executable, "-m", "foreshock.cli", "devices", "export"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"device_id,")  # the header, then the reader goes away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == "", err


def test_a_file_argument_that_cannot_be_used_is_named_without_errno_jargon(tmp_path, monkeypatch, capsys):
    """`foreshock devices import nosuch.csv` said "foreshock: error: [Errno 2] No such file or directory:
    'nosuch.csv'"; a folder given as a file "[Errno 21] Is a directory: '/etc'"."""
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'x.db'}")
    missing, folder = tmp_path / "nosuch.csv", tmp_path / "a-folder"
    folder.mkdir()
    cases = [(["devices", "import", str(missing)], f"cannot use {missing}: No such file or directory"),
             (["devices", "models", "add", "--file", str(folder)], f"cannot use {folder}: Is a directory"),
             (["devices", "export", str(tmp_path / "no" / "x.csv")],
              f"cannot use {tmp_path / 'no' / 'x.csv'}: No such file or directory")]
    for argv, said in cases:
        assert main(argv) == 2, argv  # the devices commands' usage errors
        assert capsys.readouterr().err == f"foreshock: error: {said}\n", argv
