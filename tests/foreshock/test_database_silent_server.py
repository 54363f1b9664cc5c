"""A database.url at a port where something accepts the connection and never answers (InfluxDB's 8086
given by mistake, a server stuck under load): every command, ``foreshock run`` included, waited for ever
without a word, since libpq's connect_timeout is unset by default (infinite)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

pytest.importorskip("psycopg")

HANG_BOUND_S = 180  # far above the connect timeout: only a command that hangs runs into it


def _foreshock(argv: list[str], url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FORESHOCK_DATABASE__URL": url, "FORESHOCK_DATA_DIR": str(tmp_path / "data"),
           "FORESHOCK_MQTT__URL": "mqtt://127.0.0.1:1"}
    try:
        return subprocess.run([sys.executable, "-m", "foreshock", *argv], env=env, capture_output=True, text=True,
                              timeout=HANG_BOUND_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"foreshock {' '.join(argv)} still waiting for the silent database server after {HANG_BOUND_S} s")


def test_a_database_server_that_never_answers_is_named_not_waited_for(tmp_path):
    with socket.socket() as silent:  # the kernel completes the connection; nobody reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://foreshock:secret@127.0.0.1:{port}/foreshock"
        for argv in (["devices", "list"], ["run", "--no-api"]):
            done = _foreshock(argv, url, tmp_path)
            assert done.returncode == 1, (argv, done.stderr)
            last = done.stderr.strip().splitlines()[-1]  # `run` logs its start line first
            assert last.startswith(f"foreshock: error: cannot use the database postgresql+psycopg://foreshock:"
                                   f"***@127.0.0.1:{port}/foreshock: "), done.stderr
            assert (f"connection timeout expired (no answer within 10 s: is PostgreSQL listening at 127.0.0.1:{port}, "
                    "or another server?") in last, done.stderr
            assert "FORESHOCK_DATABASE__URL" in done.stderr, done.stderr
            assert "Traceback" not in done.stderr and "secret" not in done.stderr


def test_the_urls_own_connect_timeout_is_kept_and_named(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        done = _foreshock(["devices", "list"], f"postgresql+psycopg://fs@127.0.0.1:{port}/fs?connect_timeout=2", tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"no answer within 2 s: is PostgreSQL listening at 127.0.0.1:{port}" in done.stderr, done.stderr
