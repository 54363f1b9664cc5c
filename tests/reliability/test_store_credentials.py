"""A telemetry store that refuses the credentials (or the retention policy) is a setting to correct,
not bad data: ``foreshock run`` refuses to start naming the settings, and a store that starts
refusing mid-run gets the telemetry spooled and written once it accepts again.

Found by running ``foreshock run`` against an auth-enabled influxd with a wrong password: it started
without a word, acknowledged every message and dead-lettered it as ``store_rejected`` (HTTP 401),
vibration snapshots cut to 4 KiB; a spooled batch meeting a 401 on replay was skipped, lost.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from foreshock.cli import main
from foreshock.tsdb.base import Point, StoreAccessDenied
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.retry import Retry
from ingest.metrics import IngestMetrics
from ingest.spool import Spool
from ingest.writer import Outcome, StoreWriter
from tests.tsdb_servers import InfluxdServer

ADMIN, ADMIN_PASSWORD = "admin", "adm1n-secret"
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def influxd_auth(tmp_path_factory):
    server = InfluxdServer(workdir=tmp_path_factory.mktemp("influxd-auth"), auth=True).start()
    server.create_admin(ADMIN, ADMIN_PASSWORD)
    yield server
    server.stop()


def _influxql(server: InfluxdServer, q: str, db: str | None = None) -> dict:
    params = {"q": q, "u": ADMIN, "p": ADMIN_PASSWORD, **({"db": db} if db else {})}
    resp = httpx.post(f"{server.url}/query", params=params, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _count(server: InfluxdServer, db: str) -> int:
    doc = _influxql(server, "SELECT count(v) FROM telemetry", db)
    series = doc["results"][0].get("series") or []
    return series[0]["values"][0][1] if series else 0


def _run(monkeypatch, tmp_path, capsys, **telemetry) -> tuple[int, str]:
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")  # never reached: the check comes first
    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("FORESHOCK_TELEMETRY__BACKEND", "influx1")
    for key, value in telemetry.items():
        monkeypatch.setenv(f"FORESHOCK_TELEMETRY__{key.upper()}", value)
    code = main(["run", "--no-api"])
    return code, capsys.readouterr().err


@pytest.mark.integration
def test_run_refuses_to_start_when_the_store_refuses_the_password(influxd_auth, monkeypatch, tmp_path, capsys):
    code, err = _run(monkeypatch, tmp_path, capsys, url=influxd_auth.url, database="creds", username=ADMIN,
                     password="Not-The-Password-77")
    assert code == 1
    assert err.startswith(f"foreshock: error: the telemetry store at {influxd_auth.url} refused access: ")
    assert "HTTP 401" in err and "telemetry.username, telemetry.password" in err
    assert "FORESHOCK_TELEMETRY__USERNAME" in err
    assert "Not-The-Password-77" not in err and "Traceback" not in err


@pytest.mark.integration
def test_run_refuses_to_start_without_credentials_or_with_an_unknown_retention_policy(
        influxd_auth, monkeypatch, tmp_path, capsys):
    code, err = _run(monkeypatch, tmp_path / "a", capsys, url=influxd_auth.url, database="creds")
    assert code == 1 and "refused access" in err and "HTTP 401" in err and "Traceback" not in err
    code, err = _run(monkeypatch, tmp_path / "b", capsys, url=influxd_auth.url, database="creds", username=ADMIN,
                     password=ADMIN_PASSWORD, retention_policy="no_such_rp")
    assert code == 1
    assert "retention policy not found: no_such_rp" in err and "telemetry.retention_policy" in err
    assert "Traceback" not in err


@pytest.mark.integration
def test_the_right_credentials_pass_the_check_and_create_the_database(influxd_auth):
    store = Influx1Store(influxd_auth.url, "made_at_check", username=ADMIN, password=ADMIN_PASSWORD)
    try:
        store.check_access()
        names = [v[0] for v in _influxql(influxd_auth, "SHOW DATABASES")["results"][0]["series"][0]["values"]]
        assert "made_at_check" in names
    finally:
        store.close()


@pytest.mark.integration
def test_credentials_refused_mid_run_spool_the_points_and_they_are_written_once_accepted(influxd_auth, tmp_path):
    _influxql(influxd_auth, "CREATE DATABASE creds_mid")
    _influxql(influxd_auth, "CREATE USER ingest WITH PASSWORD 'rotated-already'")
    _influxql(influxd_auth, 'GRANT ALL ON "creds_mid" TO "ingest"')
    # the service still has the old password: every request is answered 401
    store = Influx1Store(influxd_auth.url, "creds_mid", username="ingest", password="the-old-one",
                         retry=Retry(max_retries=5, max_retry_time_s=60))
    metrics = IngestMetrics()
    spool = Spool(tmp_path / "spool", max_bytes=16 * 1024 * 1024)
    writer = StoreWriter(store, spool, metrics, probe_interval_s=0.0)
    try:
        groups = [[Point("telemetry", {"device": "P-1"}, {"v": float(i)}, T0 + i)] for i in range(5)]
        outcome, rejected = writer.write(groups, abort=threading.Event())
        assert outcome is Outcome.SPOOLED and rejected == {}  # was: WRITTEN, all 5 rejected as bad data
        assert metrics.get("points_spooled") == 5 and not writer.up

        writer.maintain()  # the store answers its ping, but still refuses the password: the spool stays
        assert not writer.up and metrics.get("points_replayed") == 0 and metrics.get("store_errors") == 1
        assert _count(influxd_auth, "creds_mid") == 0

        _influxql(influxd_auth, "SET PASSWORD FOR ingest = 'the-old-one'")  # the operator puts it right
        writer.maintain()
        assert writer.up and metrics.get("points_replayed") == 5
        assert _count(influxd_auth, "creds_mid") == 5
    finally:
        spool.close()
        store.close()


def test_a_refused_request_is_not_retried():
    calls = []

    def refused():
        calls.append(1)
        raise StoreAccessDenied("influx1 write: HTTP 401: authorization failed")

    with pytest.raises(StoreAccessDenied):
        Retry(max_retries=5, base_s=0.001, sleep=lambda s: None).call(refused)
    assert len(calls) == 1
