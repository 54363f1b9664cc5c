"""``foreshock run`` start-up failures: a clear message, nothing left running."""

from __future__ import annotations

import socket

import pytest

from foreshock.cli import main


def test_run_with_the_api_port_taken_says_so_and_never_subscribes(tmp_path, monkeypatch, capsys):
    import foreshock.service as service_mod

    started = []
    orig_init = service_mod.Pipeline.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        monkeypatch.setattr(self.ingest, "start", lambda: started.append(True))

    monkeypatch.setattr(service_mod.Pipeline, "__init__", init)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("FORESHOCK_API__PORT", str(port))
        monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
        code = main(["run"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"foreshock: error: the API cannot listen on 127.0.0.1:{port}" in err
    assert "FORESHOCK_API__PORT" in err
    assert "Traceback" not in err
    assert started == []  # ingest was never started, so no broker session was taken over


def test_run_says_it_is_not_connected_when_the_broker_has_not_answered(tmp_path, monkeypatch, capsys):
    """'foreshock: ingesting from mqtt://...' was printed whether or not the broker had answered
    (with nothing listening at mqtt.url it said so, and the log said why only once)."""
    import foreshock.service as service_mod

    orig_init = service_mod.Pipeline.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        monkeypatch.setattr(self.ingest, "start", lambda: None)  # as if the broker never answered

    monkeypatch.setattr(service_mod.Pipeline, "__init__", init)
    monkeypatch.setattr(service_mod.Pipeline, "run_until_stopped", lambda self: self.stop())
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
    assert main(["run", "--no-api"]) == 0
    out = capsys.readouterr().out
    assert "foreshock: not connected to the broker at mqtt://127.0.0.1:1 yet; retrying (see the log)" in out
    assert "ingesting from" not in out


def test_the_service_tick_deletes_expired_dead_letters(tmp_path):
    """foreshock run deletes dead letters older than ingest.dead_letter_retention_d at its first tick
    (then hourly); they were kept for ever."""
    import time

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    settings = load_settings(data_dir=tmp_path, ingest={"dead_letter_retention_d": 7})
    pipe = Pipeline(settings, PipelineOptions(api=False))
    try:
        old, recent = time.time() - 8 * 86_400, time.time() - 6 * 86_400
        for t, detail in ((old, "old"), (recent, "recent")):
            pipe.dead_letters.add(reason="schema", topic="foreshock/v1/P-1/telemetry", payload=b"{}", received_at=t,
                                  device_id="P-1", detail=detail)
        pipe.tick()
        rows, total = pipe.dead_letters.list()
        assert total == 1 and rows[0].detail == "recent"
    finally:
        pipe.stop(timeout_s=5)


def _run_no_api(monkeypatch, capsys, **env) -> tuple[int, str]:
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    code = main(["run", "--no-api"])
    return code, capsys.readouterr().err


def test_unusable_folders_and_files_are_refused_naming_their_setting(tmp_path, monkeypatch, capsys):
    """Each was a bare "[Errno 2] No such file or directory" / "[Errno 17] File exists" naming neither
    the setting nor (for the TLS files) the file, or a traceback (the embedded store's file)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder, not a database\n")
    data = tmp_path / "data"
    cases = [
        ({"FORESHOCK_DATA_DIR": a_file / "sub"}, "setting data_dir (FORESHOCK_DATA_DIR): cannot use the folder"),
        ({"FORESHOCK_DATA_DIR": a_file}, "setting data_dir (FORESHOCK_DATA_DIR): cannot use the folder"),
        ({"FORESHOCK_DATA_DIR": data, "FORESHOCK_INGEST__SPOOL_DIR": a_file},
         "setting ingest.spool_dir (FORESHOCK_INGEST__SPOOL_DIR): cannot use the folder"),
        ({"FORESHOCK_DATA_DIR": data, "FORESHOCK_TELEMETRY__PATH": a_file},
         "setting telemetry.path (FORESHOCK_TELEMETRY__PATH): cannot open the embedded telemetry store"),
        ({"FORESHOCK_DATA_DIR": data, "FORESHOCK_MQTT__URL": "mqtts://127.0.0.1:1",
          "FORESHOCK_MQTT__CA_FILE": tmp_path / "missing-ca.pem"},
         f"setting mqtt.ca_file (FORESHOCK_MQTT__CA_FILE): cannot read {tmp_path / 'missing-ca.pem'}"),
        ({"FORESHOCK_DATA_DIR": data, "FORESHOCK_MQTT__URL": "mqtts://127.0.0.1:1",
          "FORESHOCK_MQTT__KEY_FILE": tmp_path / "missing.key"},
         "setting mqtt.key_file (FORESHOCK_MQTT__KEY_FILE): cannot read"),
        # a setting the backend needs, left empty: was a ValueError traceback
        ({"FORESHOCK_DATA_DIR": data, "FORESHOCK_TELEMETRY__BACKEND": "influx1", "FORESHOCK_TELEMETRY__DATABASE": ""},
         "setting telemetry.database (FORESHOCK_TELEMETRY__DATABASE): telemetry.database must not be empty"),
    ]
    for env, expected in cases:
        with monkeypatch.context() as m:
            code, err = _run_no_api(m, capsys, **env)
        assert code == 1, (env, err)
        assert err.startswith(f"foreshock: error: {expected}"), (env, err)
        assert "Traceback" not in err
    assert a_file.read_text() == "not a folder, not a database\n"  # nothing written over it


def test_a_database_file_that_is_not_a_database_or_cannot_be_created_is_named(tmp_path, monkeypatch, capsys):
    """A SQLite database.url on a file that is not a database was a DatabaseError traceback; one in a
    folder that cannot be created was "[Errno 2] No such file or directory: '/x'"."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("notes\n")
    for url, reason in ((f"sqlite:///{a_file}", "file is not a database"),
                        (f"sqlite:///{a_file}/sub/fs.db", "cannot create the folder")):
        monkeypatch.setenv("FORESHOCK_DATABASE__URL", url)
        for argv in (["db", "upgrade"], ["devices", "list"]):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert err.startswith(f"foreshock: error: cannot use the database {url}: "), err
            assert reason in err and "FORESHOCK_DATABASE__URL" in err and "Traceback" not in err
    assert a_file.read_text() == "notes\n"
    # the default database lives in data_dir: then that is the setting named
    monkeypatch.delenv("FORESHOCK_DATABASE__URL")
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(a_file))
    assert main(["devices", "list"]) == 1
    err = capsys.readouterr().err
    assert "cannot create the folder" in err and "FORESHOCK_DATA_DIR" in err and "Traceback" not in err


def test_a_database_outage_is_one_log_line_per_failure_not_a_traceback(tmp_path, caplog):
    """With PostgreSQL cut off for 12 s, `foreshock run` logged a full traceback (about 60 lines) for
    every last-seen write, tick and state flush; an outage of an hour filled the log with them."""
    import logging

    from sqlalchemy.exc import OperationalError

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    pipe = Pipeline(load_settings(data_dir=tmp_path), PipelineOptions(api=False))
    try:
        def down(*a, **kw):
            raise OperationalError("SELECT 1", {}, Exception("connection to server at \"db\" failed: refused\nmore"))

        pipe.alerts.tick = down
        pipe.detection.flush = lambda: (_ for _ in ()).throw(RuntimeError("a bug"))
        with caplog.at_level(logging.ERROR, logger="foreshock.service"):
            pipe.tick()
        by_msg = {r.getMessage(): r for r in caplog.records}
        line = 'alert clock tick failed: database unavailable (OperationalError: connection to server at "db" ' \
               'failed: refused); trying again later'
        assert line in by_msg and by_msg[line].exc_info is None
        # anything else keeps its traceback
        assert by_msg["saving detector state failed"].exc_info is not None
    finally:
        pipe.stop(timeout_s=5)


def test_an_api_host_that_is_not_this_machines_is_named_not_blamed_on_another_process(tmp_path, monkeypatch, capsys):
    """'the API cannot listen on nohost.invalid:8000: Name or service not known (another process, perhaps
    a running foreshock, uses it; set api.port ...)': the hint pointed at the port, not the host."""
    for host in ("nohost.invalid", "999.1.1.1"):
        code, err = _run_with_api(monkeypatch, capsys, tmp_path, host)
        assert code == 1
        assert f"foreshock: error: the API cannot listen on {host}:" in err
        assert "setting api.host (FORESHOCK_API__HOST)" in err and "another process" not in err
        assert "Traceback" not in err


def _run_with_api(monkeypatch, capsys, tmp_path, host) -> tuple[int, str]:
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("FORESHOCK_API__HOST", host)
    code = main(["run"])
    return code, capsys.readouterr().err


def test_mqtt_settings_paho_refuses_at_start_are_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    import foreshock.service as service_mod
    from ingest.types import IngestError

    orig_init = service_mod.Pipeline.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)

        def refuse(*a, **kw):
            raise IngestError("cannot connect to MQTT broker mqtt://127.0.0.1:1: Keepalive must be >=0.")

        monkeypatch.setattr(self.ingest, "start", refuse)

    monkeypatch.setattr(service_mod.Pipeline, "__init__", init)
    code, err = _run_no_api(monkeypatch, capsys, FORESHOCK_DATA_DIR=tmp_path / "data")
    assert code == 1
    assert err.startswith("foreshock: error: cannot connect to MQTT broker mqtt://127.0.0.1:1: Keepalive")
    assert "FORESHOCK_MQTT__URL" in err and "Traceback" not in err


def test_the_service_tick_announces_saved_health_on_the_event_stream(tmp_path):
    """One `health` event per save that wrote something, naming the units (at most 200) and their
    state; a tick with nothing new says nothing."""
    import numpy as np

    import foreshock.service as service
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings
    from tests.foreshock.test_detection import vib

    pipe = Pipeline(load_settings(data_dir=tmp_path, ingest={"auto_register": True}), PipelineOptions(api=False))
    published: list[tuple[str, dict]] = []
    pipe.events.publish = lambda kind, payload: published.append((kind, payload))  # type: ignore[method-assign]
    try:
        pipe._health_saved([("P-0001", "warning"), ("P-0002", "healthy")])
        assert published == [("health", {"units": 2, "device_ids": ["P-0001", "P-0002"],
                                         "states": {"P-0001": "warning", "P-0002": "healthy"}})]
        many = [(f"P-{i:04d}", "healthy") for i in range(service.HEALTH_EVENT_IDS + 50)]
        pipe._health_saved(many)
        kind, payload = published[-1]
        assert payload["units"] == service.HEALTH_EVENT_IDS + 50
        assert len(payload["device_ids"]) == len(payload["states"]) == service.HEALTH_EVENT_IDS
        published.clear()
        pipe.tick()  # nothing assessed: nothing saved, nothing announced
        assert [k for k, _ in published if k == "health"] == []
        rng = np.random.default_rng(1)
        pipe.detection.on_batch([vib(i, 1_795_000_000_000 + i * 600_000, rng) for i in range(2)])
        pipe.tick()  # the unit's new assessment is saved and announced
        assert [p for k, p in published if k == "health"] == [
            {"units": 1, "device_ids": ["U-1"], "states": {"U-1": "healthy"}}]
    finally:
        pipe.stop(timeout_s=5)


def test_a_store_refusal_that_names_its_setting_is_not_blamed_on_the_credentials(tmp_path):
    """Every refusal ended "(check the settings telemetry.username, ...)", also when the store's check
    had found the URL at fault (https to a plain-HTTP server) and said so."""
    from foreshock.service import Pipeline, PipelineOptions, StartupError
    from foreshock.settings import load_settings
    from foreshock.tsdb import StoreAccessDenied

    pipe = Pipeline(load_settings(data_dir=tmp_path), PipelineOptions(api=False))
    try:
        def url_at_fault():
            raise StoreAccessDenied("the server does not speak TLS there (setting telemetry.url)")

        def credentials():
            raise StoreAccessDenied("authorization failed")

        pipe.store.check_access = url_at_fault
        with pytest.raises(StartupError) as err:
            pipe._check_startup()
        assert "telemetry.url" in str(err.value) and "telemetry.username" not in str(err.value)
        pipe.store.check_access = credentials
        with pytest.raises(StartupError) as err:
            pipe._check_startup()
        assert "check the settings telemetry.username" in str(err.value)
    finally:
        pipe.stop(timeout_s=5)


def test_a_read_only_data_folder_is_named_as_such(tmp_path, monkeypatch, capsys):
    """A data_dir on a file system mounted read-only was refused as "Permission denied", which sends
    the operator to chmod a folder whose permissions are fine."""
    import subprocess

    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        code, err = _run_no_api(monkeypatch, capsys, FORESHOCK_DATA_DIR=ro)
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    assert code == 1
    assert err.startswith(f"foreshock: error: setting data_dir (FORESHOCK_DATA_DIR): cannot use the folder {ro}: "
                          "Read-only file system"), err


def test_a_second_run_on_the_same_data_folder_is_refused_naming_the_first(tmp_path, monkeypatch, capsys):
    """Two `foreshock run` on one data folder (the same config started twice) both started: they
    appended to the same spool and alert queue, and took the broker session from each other every
    second, with nothing at start to say why."""
    import os

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    data = tmp_path / "data"
    first = Pipeline(load_settings(data_dir=data), PipelineOptions(api=False))
    try:
        code, err = _run_no_api(monkeypatch, capsys, FORESHOCK_DATA_DIR=data)
        assert code == 1 and "Traceback" not in err
        assert err.startswith(f"foreshock: error: setting data_dir (FORESHOCK_DATA_DIR): the folder {data} is in use "
                              f"by another foreshock run (pid {os.getpid()}); two services must not share it"), err
        spool = tmp_path / "spool"
        second = Pipeline(load_settings(data_dir=tmp_path / "other", ingest={"spool_dir": spool}),
                          PipelineOptions(api=False))
        code, err = _run_no_api(monkeypatch, capsys, FORESHOCK_DATA_DIR=tmp_path / "third",
                                FORESHOCK_INGEST__SPOOL_DIR=spool)
        second.stop(timeout_s=5)
        assert code == 1 and err.startswith("foreshock: error: setting ingest.spool_dir (FORESHOCK_INGEST__SPOOL_DIR): "
                                            f"the folder {spool} is in use by another foreshock run"), err
    finally:
        first.stop(timeout_s=5)
    again = Pipeline(load_settings(data_dir=data), PipelineOptions(api=False))  # released at stop
    again.stop(timeout_s=5)


def test_a_start_after_a_run_that_did_not_stop_cleanly_says_what_that_lost(tmp_path, caplog):
    """After `kill -9` (or a crash, or a power loss) the next start said nothing: the log showed a
    normal start, and what a crash loses was only in docs/reliability.md."""
    import logging
    import subprocess
    import sys

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    data = tmp_path / "data"
    settings = load_settings(data_dir=data)
    with caplog.at_level(logging.INFO, logger="foreshock.service"):
        Pipeline(settings, PipelineOptions(api=False)).stop(timeout_s=5)
        Pipeline(settings, PipelineOptions(api=False)).stop(timeout_s=5)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # clean stops: nothing to say
    assert caplog.messages.count("stopped") == 2
    caplog.clear()

    script = ("import os, signal\nfrom foreshock.service import Pipeline, PipelineOptions\n"
              "from foreshock.settings import load_settings\n"
              f"Pipeline(load_settings(data_dir={str(data)!r}), PipelineOptions(api=False))\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert killed.returncode == -9, killed.stderr
    with caplog.at_level(logging.WARNING, logger="foreshock.service"):
        pipe = Pipeline(settings, PipelineOptions(api=False))  # the lock went with the killed process
        pipe.stop(timeout_s=5)
    [said] = caplog.messages
    assert said.startswith(f"the last foreshock run on {data} (pid ") and "did not stop cleanly" in said
    assert "messages it had acknowledged but not yet assessed are stored but not assessed" in said


def test_a_stop_while_the_database_is_down_still_stops_cleanly(tmp_path, caplog):
    """SIGTERM with PostgreSQL cut off: writing the last-seen times raised out of stop(), so the API,
    the alert service and the telemetry store were never closed, the process ended with
    `foreshock: error: cannot use the database …` as if it had failed to start, and the next start
    reported a crash."""
    import logging

    from sqlalchemy.exc import OperationalError

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    data = tmp_path / "data"
    pipe = Pipeline(load_settings(data_dir=data), PipelineOptions(api=False))
    closed = []
    store_close = pipe.store.close
    pipe.store.close = lambda: (closed.append(True), store_close())

    def down():
        raise OperationalError("UPDATE units", {}, Exception("connection refused\nmore"))

    pipe.registry.flush_seen = down
    with caplog.at_level(logging.INFO, logger="foreshock.service"):
        pipe.stop(timeout_s=5)
    assert closed == [True]
    assert ("last-seen times not written at shutdown (database unavailable: connection refused); the units' next "
            "messages set them again") in caplog.messages
    assert caplog.messages[-1] == "stopped" and (data / "foreshock.lock").read_text() == ""


def test_a_start_refused_after_the_folder_lock_leaves_no_false_crash_report(tmp_path, monkeypatch, capsys, caplog):
    """A start stopped by the database (PostgreSQL not up yet at boot, a wrong database.url) or by the
    embedded store's file, both opened after the data folder is locked, left its pid in the lock file:
    the next start, the one that worked, warned that the last run "did not stop cleanly" and had lost
    messages, though that run had never taken one."""
    import logging

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    data = tmp_path / "data"
    junk = tmp_path / "not-a-database"
    junk.write_text("not a database\n")
    for env in ({"FORESHOCK_DATABASE__URL": f"sqlite:///{junk}"}, {"FORESHOCK_TELEMETRY__PATH": junk}):
        with monkeypatch.context() as m:
            code, err = _run_no_api(m, capsys, FORESHOCK_DATA_DIR=data, **env)
        assert code == 1 and "Traceback" not in err, err
        assert (data / "foreshock.lock").read_text() == "", env
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="foreshock.service"):
        Pipeline(load_settings(data_dir=data), PipelineOptions(api=False)).stop(timeout_s=5)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert junk.read_text() == "not a database\n"


def test_the_log_of_a_start_says_which_version_runs_and_where_it_keeps_its_data(tmp_path, monkeypatch, caplog):
    """After an upgrade the journal did not say which version had started, nor which database, telemetry
    store and data folder it used (a settings file left out, a stale environment file): the log began with
    the broker connection."""
    import logging

    import foreshock.service as service_mod
    from foreshock import __version__

    monkeypatch.setattr(service_mod.Pipeline, "run_until_stopped", lambda self: self.stop())
    data = tmp_path / "data"
    config = tmp_path / "foreshock.toml"
    config.write_text('[telemetry]\nbackend = "influx1"\nurl = "http://127.0.0.1:1"\nusername = "fs"\n')
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(data))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    monkeypatch.setenv("FORESHOCK_TELEMETRY__PASSWORD", "influx-secret")
    monkeypatch.setenv("FORESHOCK_DATABASE__URL", f"sqlite:///{tmp_path / 'fs.db'}")
    with caplog.at_level(logging.INFO, logger="foreshock.service"):
        assert main(["--config", str(config), "run", "--no-api"]) == 0
    first = caplog.messages[0]
    assert first == (f"foreshock {__version__} starting (settings file {config}): database sqlite:///{tmp_path / 'fs.db'}; "
                     f"telemetry store influx1 at http://127.0.0.1:1, database foreshock; broker mqtt://127.0.0.1:1; "
                     f"data_dir {data}"), first
    assert "secret" not in " ".join(caplog.messages)


def test_a_hangup_stops_the_service_cleanly_as_a_termination_does(tmp_path):
    """`kill -HUP` (or the terminal it runs in closing) ended `foreshock run` at once, Python's default: no
    graceful stop, the data folder's lock left behind, and the next start reported a crash. It now stops
    as SIGTERM stops it, saying that the settings are read at start."""
    import subprocess
    import sys

    data = tmp_path / "data"
    script = ("import logging, os, signal, threading, time\n"
              "logging.basicConfig(level=logging.INFO)\n"
              "from foreshock.service import Pipeline, PipelineOptions\n"
              "from foreshock.settings import load_settings\n"
              f"pipe = Pipeline(load_settings(data_dir={str(data)!r}), PipelineOptions(api=False))\n"
              "threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGHUP)).start()\n"
              "pipe.run_until_stopped()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "SIGHUP" in done.stderr and "settings are read at start" in done.stderr
    assert done.stderr.rstrip().endswith("stopped") and (data / "foreshock.lock").read_text() == ""
