"""A database password never shows, whatever its characters.

A PostgreSQL URL whose password holds an unencoded '@' (``postgresql+psycopg://fs:p@ss@db/fs``) is read by
SQLAlchemy as the password ``p`` on the host ``ss@db``: every command said ``cannot use the database
postgresql+psycopg://fs:***@ss@db/fs: failed to resolve host 'ss@db'``, the password's end twice. Such a URL
is now refused as a setting (exit 2), saying that '@' is written %40; every other message masks the
password, read however it is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from foreshock.db import shown_url, url_problem
from foreshock.settings import SettingsError, load_settings
from tests.servers import distinct_free_ports

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # bound on waiting for the service; never a speed assertion

# the password is FRONT + one character + BACK: neither half may show anywhere
FRONT, BACK = "alpha7", "omega9"
SPECIALS = ["@", ":", "/", "%", "#", "?"]
PASSWORDS = [f"{FRONT}{c}{BACK}" for c in SPECIALS] + [f"{FRONT}@x:y/z%#{BACK}", f"{FRONT}:@{BACK}@q"]


def _hidden(text: str) -> bool:
    return FRONT not in text and BACK not in text


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("template", [
    "postgresql+psycopg://fs:{pw}@db.example.com:5432/fs",
    "postgresql+psycopg://fs:{pw}@db.example.com/fs?sslmode=require",
    "postgresql+psycopg://fs:{pw}@[::1]:5432/fs",
    "postgresql+psycopg://user@server:{pw}@db.example.com/fs",  # an Azure-style user name with an '@'
    "postgresql://fs@db/fs?password={pw}",
    "postgres:/fs:{pw}@db/fs",  # a scheme mistyped
])
def test_shown_url_hides_the_password_whatever_its_characters(template, password):
    url = template.format(pw=password)
    shown = shown_url(url)
    assert _hidden(shown), shown
    assert "***" in shown
    problem = url_problem(url)
    assert problem is None or _hidden(problem)


def test_shown_url_keeps_what_helps_and_encodes_nothing_new():
    assert shown_url("postgresql+psycopg://fs:p%40ss@db:5432/fs") == "postgresql+psycopg://fs:***@db:5432/fs"
    assert shown_url("postgresql+psycopg://fs:p@ss@db:5432/fs") == "postgresql+psycopg://fs:***@db:5432/fs"
    assert shown_url("postgresql+psycopg://fs@db/fs") == "postgresql+psycopg://fs@db/fs"
    assert shown_url("sqlite:////var/lib/a@b/foreshock.db") == "sqlite:////var/lib/a@b/foreshock.db"


@pytest.mark.parametrize("password", [p for p in PASSWORDS if "@" in p])
def test_an_unencoded_at_sign_is_refused_as_a_setting_saying_to_write_it_as_percent_40(monkeypatch, password):
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"postgresql+psycopg://fs:{password}@127.0.0.1:5432/fs")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "setting database.url (FORESHOCK_DATABASE__URL)" in message
    assert "an '@' in the password (or the user name) must be percent-encoded, as %40" in message
    assert "postgresql+psycopg://fs:***@127.0.0.1:5432/fs" in message and _hidden(message), message


def test_an_encoded_at_sign_and_an_azure_user_name_are_accepted(monkeypatch):
    for url in ("postgresql+psycopg://fs:alpha7%40omega9@127.0.0.1:5432/fs",
                "postgresql+psycopg://user@server:alpha7omega9@127.0.0.1:5432/fs"):
        monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
        assert load_settings().database.url == url


def _foreshock(tmp_path: Path, url: str, *argv: str, env: dict[str, str] | None = None,
               timeout_s: float = WAIT_S) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FORESHOCK_") and k != "NOTIFY_SOCKET"}
    full.update({"PYTHONPATH": str(ROOT), "FORESHOCK_DATABASE__URL": url, "FORESHOCK_DATA_DIR": str(tmp_path / "d"),
                 "FORESHOCK_MQTT__URL": "mqtt://127.0.0.1:1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "foreshock", "--log-level", "DEBUG", *argv], env=full, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=timeout_s)


@pytest.mark.parametrize("password", PASSWORDS)
def test_no_command_prints_the_password_of_a_database_that_cannot_be_used(tmp_path, password):
    """Nothing listens at the database's port: each command ends naming the database, its password masked,
    in its messages and its debug log alike."""
    pytest.importorskip("psycopg")
    port, = distinct_free_ports(1)
    url = f"postgresql+psycopg://fs:{password}@127.0.0.1:{port}/fs"
    for argv in (["run", "--no-api"], ["db", "upgrade"], ["devices", "list"]):
        done = _foreshock(tmp_path, url, *argv)
        output = done.stdout + done.stderr
        assert _hidden(output), (argv, output)
        if "@" in password:
            assert done.returncode == 2, (argv, output)
            assert "must be percent-encoded, as %40" in output
        else:
            assert done.returncode == 1, (argv, output)
            assert f"cannot use the database postgresql+psycopg://fs:***@127.0.0.1:{port}/fs: " in output, output


def test_a_password_given_as_a_query_parameter_is_not_printed_either(tmp_path):
    """libpq also takes the password as ``?password=``: the command's refusal masks it there too."""
    pytest.importorskip("psycopg")
    port, = distinct_free_ports(1)
    done = _foreshock(tmp_path, f"postgresql+psycopg://fs@127.0.0.1:{port}/fs?password={FRONT}x{BACK}", "devices", "list")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"cannot use the database postgresql+psycopg://fs@127.0.0.1:{port}/fs?password=***: " in output, output
    assert _hidden(output), output


@pytest.fixture
def postgres_behind_a_proxy():
    from tests.reliability.proxy import postgres_through_a_proxy

    with postgres_through_a_proxy() as (parsed, proxy):
        yield parsed, proxy


@pytest.mark.integration
@pytest.mark.parametrize("special", [":", "/", "%", "#", "?"])
def test_the_api_and_the_log_never_show_the_password_when_the_database_goes_away(postgres_behind_a_proxy, tmp_path,
                                                                                 special):
    """A running service (the test server takes any password) whose database is then cut: /readyz names the
    database's failure, an API call that needs the database fails; neither answer, nor the log, nor any
    command's output holds the password."""
    parsed, proxy = postgres_behind_a_proxy
    password = f"{FRONT}{special}{BACK}"
    url = (f"postgresql+psycopg://{parsed.username}:{password}@127.0.0.1:{proxy.port}/{parsed.database}")
    token = _foreshock(tmp_path, url, "token", "create", "--name", f"t-{uuid.uuid4().hex[:6]}", "--role", "admin")
    assert token.returncode == 0 and _hidden(token.stdout + token.stderr), token.stderr
    secret = next(w for w in token.stdout.split() if w.startswith("fs_"))
    api_port, = distinct_free_ports(1)
    full = {k: v for k, v in os.environ.items() if not k.startswith("FORESHOCK_") and k != "NOTIFY_SOCKET"}
    full.update({"PYTHONPATH": str(ROOT), "FORESHOCK_DATABASE__URL": url, "FORESHOCK_DATA_DIR": str(tmp_path / "d"),
                 "FORESHOCK_MQTT__URL": "mqtt://127.0.0.1:1", "FORESHOCK_API__PORT": str(api_port)})
    log_path = tmp_path / "service.log"
    with open(log_path, "wb") as log:
        service = subprocess.Popen([sys.executable, "-m", "foreshock", "--log-level", "DEBUG", "run"], env=full,
                                   cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    bodies = []
    try:
        from tests.ingest.conftest import wait_until

        def answers() -> bool:
            assert service.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"{api}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, WAIT_S, what="the API to answer")
        proxy.cut()
        ready = httpx.get(f"{api}/readyz", timeout=30)
        assert ready.status_code == 503 and "database" in ready.text, ready.text
        bodies.append(ready.text)
        for path in ("/api/v1/units", "/api/v1/alerts", "/api/v1/tickets"):
            answer = httpx.get(f"{api}{path}", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
            assert answer.status_code == 503 and "database is unavailable" in answer.text, (path, answer.text)
            bodies.append(answer.text)
        proxy.restore()
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
        try:
            service.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
    text = log_path.read_text()
    assert "database postgresql+psycopg://" in text and ":***@" in text  # the start line names it, masked
    for body in bodies:
        assert _hidden(body), body
    assert _hidden(text), text
