"""An InfluxDB 1.x user that may write the database but not read it (`GRANT WRITE ON foreshock TO foreshock`,
as one would for an ingest-only writer) passed the start-up check: ingest stored everything, /readyz said
ready, and then the API's series, the dashboard's charts and a complaint's evidence failed with `503 the
telemetry store is unavailable: … not authorized to execute statement 'SELECT …'`."""

from __future__ import annotations

import httpx
import pytest

from foreshock.cli import main
from tests.tsdb_servers import InfluxdServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def influxd_with_users(tmp_path_factory):
    server = InfluxdServer(workdir=tmp_path_factory.mktemp("influxd-users"), auth=True).start()
    server.create_admin("admin", "adm1n")
    for q in ("CREATE DATABASE plant", "CREATE USER writer WITH PASSWORD 'wpw'", "GRANT WRITE ON plant TO writer",
              "CREATE USER both WITH PASSWORD 'bpw'", "GRANT ALL ON plant TO both"):
        httpx.post(f"{server.url}/query", params={"q": q}, auth=("admin", "adm1n"), timeout=10).raise_for_status()
    yield server
    server.stop()


def _run(monkeypatch, capsys, tmp_path, url: str, user: str, password: str) -> tuple[int, str]:
    import foreshock.service as service_mod

    monkeypatch.setattr(service_mod.Pipeline, "run_until_stopped", lambda self: self.stop(timeout_s=5))
    for key, value in {"DATA_DIR": tmp_path / "data", "MQTT__URL": "mqtt://127.0.0.1:1", "LOG_LEVEL": "WARNING",
                       "TELEMETRY__BACKEND": "influx1", "TELEMETRY__URL": url, "TELEMETRY__DATABASE": "plant",
                       "TELEMETRY__USERNAME": user, "TELEMETRY__PASSWORD": password}.items():
        monkeypatch.setenv(f"FORESHOCK_{key}", str(value))
    code = main(["run", "--no-api"])
    return code, capsys.readouterr().err


def test_a_user_that_may_write_but_not_read_is_refused_at_start_naming_the_grant(influxd_with_users, monkeypatch,
                                                                                 capsys, tmp_path):
    code, err = _run(monkeypatch, capsys, tmp_path, influxd_with_users.url, "writer", "wpw")
    assert code == 1, err
    assert err.startswith(f"foreshock: error: the telemetry store at {influxd_with_users.url} refused access: "
                          "influx1 query: HTTP 403: "), err
    assert ("the user 'writer' (setting telemetry.username) may write the database 'plant' but not read it" in err
            and "GRANT ALL ON" in err), err
    assert "wpw" not in err and "Traceback" not in err


def test_a_user_that_may_read_and_write_starts(influxd_with_users, monkeypatch, capsys, tmp_path):
    code, err = _run(monkeypatch, capsys, tmp_path, influxd_with_users.url, "both", "bpw")
    assert code == 0, err


def test_credentials_refused_mid_run_are_named_and_make_the_service_not_ready(influxd_with_users, mosquitto, tmp_path,
                                                                             caplog):
    """The InfluxDB password rotated (or the user dropped) under a running service: every batch was spooled,
    yet /readyz said ready with telemetry_store "ok" (its probe is a ping, which asks for no credentials), and
    the log said "telemetry store unavailable", which sends one looking for an outage."""
    import logging

    from devices import protocol
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings
    from tests.ingest.conftest import Publisher
    from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
    from tests.waiting import wait_for

    def admin(q: str) -> None:
        httpx.post(f"{influxd_with_users.url}/query", params={"q": q}, auth=("admin", "adm1n"),
                   timeout=10).raise_for_status()

    admin("CREATE USER rotating WITH PASSWORD 'old'")
    admin("GRANT ALL ON plant TO rotating")
    settings = load_settings(
        data_dir=tmp_path / "data", ingest={"auto_register": True},
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"rotating-{tmp_path.name[-8:]}"},
        telemetry={"backend": "influx1", "url": influxd_with_users.url, "database": "plant", "username": "rotating",
                   "password": "old", "max_retries": 0, "max_retry_time_s": 1})
    pipe = Pipeline(settings, PipelineOptions(api=False)).start()
    publisher = Publisher(mosquitto)
    try:
        probe = pipe.probes()["telemetry_store"]
        probe()  # accepted: ready
        admin("SET PASSWORD FOR rotating = 'new'")
        with caplog.at_level(logging.ERROR, logger="ingest.writer"):
            publisher.publish("foreshock/v1/RT-0001/telemetry",
                              protocol.telemetry_payload(protocol.now_ms(), 1, {"t": 20.0}))
            wait_for(lambda: not pipe.ingest.metrics.snapshot()["store_up"], what="the batch spooled")
        with pytest.raises(Exception) as not_ready:
            probe()
        said = str(not_ready.value)
        assert said.startswith("refused access: influx1 write: HTTP 401"), said
        assert "telemetry is spooled (" in said and "bytes spooled)" in said, said
        [line] = [m for m in caplog.messages if "telemetry store" in m]
        assert line.startswith("telemetry store refused access (influx1 write: HTTP 401: "), line
        assert "telemetry.password" in line and "spooling to" in line, line
    finally:
        publisher.close()
        pipe.stop(timeout_s=5)


def test_the_influx2_backend_at_an_influxdb_1_names_the_backend_to_choose(influxd_with_users, monkeypatch, capsys,
                                                                          tmp_path):
    """telemetry.backend = "influx2" (the default in docs/configuration.md's example) against Debian's InfluxDB 1.6
    said "HTTP 404: 404 page not found: no such API at this address; check the setting telemetry.url", though
    the URL was right: the backend was wrong, and the server says its version in every answer."""
    import foreshock.service as service_mod

    monkeypatch.setattr(service_mod.Pipeline, "run_until_stopped", lambda self: self.stop(timeout_s=5))
    for key, value in {"DATA_DIR": tmp_path / "data", "MQTT__URL": "mqtt://127.0.0.1:1", "LOG_LEVEL": "WARNING",
                       "TELEMETRY__BACKEND": "influx2", "TELEMETRY__URL": influxd_with_users.url,
                       "TELEMETRY__TOKEN": "a-token"}.items():
        monkeypatch.setenv(f"FORESHOCK_{key}", str(value))
    assert main(["run", "--no-api"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"foreshock: error: the telemetry store at {influxd_with_users.url} refused access: "
                          "influx2 write: HTTP 404"), err
    assert ("the server is InfluxDB 1.6" in err and "which has no v2 API: set telemetry.backend = \"influx1\"" in err
            and "telemetry.url" not in err), err
