"""A telemetry store address or setting that cannot work is named at start (``check_access``, which
``foreshock run`` calls before it subscribes) and, met mid-run, is a :class:`StoreAccessDenied`:
ingest spools the points instead of retrying for ever or dead-lettering every message as bad data.

Found in an operator's walk-through against the real servers:

- ``https://`` to a plain-HTTP influxd, or a self-signed certificate: ``foreshock run`` started,
  logged ``[SSL: WRONG_VERSION_NUMBER]`` and spooled for ever;
- ``http://`` to an HTTPS server: the access check passed (its 400 was taken as "the empty body
  was refused, the credentials were fine"), writes then got the same 400 as bad data
  (``store_rejected``) or a connection reset (spooled for ever);
- a query or an API endpoint in ``telemetry.url`` (``http://influx:8086/write?db=plant``,
  ``…/api/v2``): the check passed against victoria-metrics, the ping failed for ever, so a spool,
  once started, was never replayed;
- a user without admin rights and a missing database: the message did not name
  ``telemetry.database``; a dropped retention policy mid-run was retried as an outage;
- influx2 reads from victoria-metrics: ``HTTP 400 … unsupported path`` without a hint.
"""

from __future__ import annotations

import httpx
import pytest

from foreshock.tsdb.base import Point, StoreAccessDenied, StoreError
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.influx2 import Influx2Store
from foreshock.tsdb.retry import Retry
from tests.tsdb_servers import InfluxdServer, VictoriaMetricsServer, self_signed_certificate

T0 = 1_700_000_000_000
POINTS = [Point("telemetry", {"device": "P-1"}, {"t": 1.5}, T0)]


def _influx1(url: str, **kw) -> Influx1Store:
    return Influx1Store(url, "plant", retry=Retry(max_retries=3, base_s=0.001), **kw)


def _influx2(url: str) -> Influx2Store:
    return Influx2Store(url, "tok", "acme", "plant", retry=Retry(max_retries=3, base_s=0.001))


def _serving_tls(server_class, tmp_path_factory, name: str):
    """A server of ``server_class`` serving HTTPS only, with a self-signed certificate; stopped after."""
    workdir = tmp_path_factory.mktemp(name)
    server = server_class(workdir=workdir, tls=self_signed_certificate(workdir)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_vm(tmp_path_factory):
    """victoria-metrics serving HTTPS only: it hangs up on plain HTTP."""
    yield from _serving_tls(VictoriaMetricsServer, tmp_path_factory, "vm-tls")


@pytest.fixture(scope="module")
def tls_influxd(tmp_path_factory):
    """influxd serving HTTPS only: it answers plain HTTP with a 400."""
    yield from _serving_tls(InfluxdServer, tmp_path_factory, "influxd-tls")


@pytest.fixture(scope="module")
def influxd_auth(tmp_path_factory):
    server = InfluxdServer(workdir=tmp_path_factory.mktemp("influxd-auth"), auth=True).start()
    server.create_admin("admin", "adm1n")
    for q in ("CREATE DATABASE plant WITH NAME week", "CREATE USER ingest WITH PASSWORD 'pw'",
              "GRANT ALL ON plant TO ingest"):
        httpx.post(f"{server.url}/query", params={"q": q}, auth=("admin", "adm1n"), timeout=10).raise_for_status()
    yield server
    server.stop()


@pytest.mark.integration
def test_https_to_a_plain_http_influxd_is_named_at_start_and_not_retried(influxd):
    store = _influx1(influxd.url.replace("http://", "https://"))
    with pytest.raises(StoreAccessDenied, match=r"does not speak TLS there: check the setting telemetry.url \(http://"):
        store.check_access()
    with pytest.raises(StoreAccessDenied, match="telemetry.url"):
        store.write(POINTS)
    store.close()


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["influx1", "influx2"])
def test_http_to_an_https_influxd_is_named_at_start_and_spooled_not_rejected(tls_influxd, backend):
    url = tls_influxd.url.replace("https://", "http://")
    store = _influx1(url) if backend == "influx1" else _influx2(url)
    with pytest.raises(StoreAccessDenied, match=r"check the setting telemetry.url \(https://, not http://\)"):
        store.check_access()
    with pytest.raises(StoreAccessDenied):  # a StoreError would dead-letter every message as store_rejected
        store.write(POINTS)
    store.close()


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["influx1", "influx2"])
def test_http_to_a_server_that_hangs_up_on_plain_http_is_named_at_start(tls_vm, backend):
    url = tls_vm.url.replace("https://", "http://")
    store = _influx1(url) if backend == "influx1" else _influx2(url)
    with pytest.raises(StoreAccessDenied, match=r"speaks TLS: check the setting telemetry.url \(https://, not http://\)"):
        store.check_access()
    store.close()


@pytest.mark.integration
def test_an_untrusted_certificate_is_named_and_ssl_cert_file_as_the_message_says_trusts_it(tls_vm, monkeypatch):
    store = _influx2(tls_vm.url)
    with pytest.raises(StoreAccessDenied, match="certificate is not trusted.*SSL_CERT_FILE"):
        store.check_access()
    with pytest.raises(StoreAccessDenied, match="SSL_CERT_FILE"):
        store.write(POINTS)
    store.close()

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_vm.tls[0]))
    store = _influx2(tls_vm.url)
    store.check_access()
    store.write(POINTS)  # influxdb-client's own TLS (urllib3) too, not only httpx's
    store.close()


@pytest.mark.integration
@pytest.mark.parametrize("server, suffix, hint", [
    ("influxd", "/write?db=plant", "without a query"),
    ("influxd", "/query", "not its API endpoint /query: e.g. http://127.0.0.1:"),
    ("influxd", "/influx", "404 page not found: no such API at this address; check the setting telemetry.url"),
    ("victoria_metrics", "/api/v2", "not its API endpoint /api/v2: e.g. http://127.0.0.1:"),
    ("victoria_metrics", "/api/v2/write", "not its API endpoint /api/v2/write: e.g. http://127.0.0.1:"),
    ("victoria_metrics", "/?org=acme", "without a query"),
    # writes would pass (victoria-metrics serves /influx/api/v2/write), the ping never: a spool
    # started by the first outage would never be replayed
    ("victoria_metrics", "/influx", "no InfluxDB at"),
])
def test_a_path_or_query_in_the_url_is_named(request, server, suffix, hint):
    url = request.getfixturevalue(server).url + suffix
    store = _influx1(url) if server == "influxd" else _influx2(url)
    with pytest.raises(StoreAccessDenied, match="telemetry.url") as info:
        store.check_access()
    assert hint in str(info.value)
    store.close()


@pytest.mark.integration
def test_a_database_the_user_may_not_create_names_the_setting(influxd_auth):
    store = Influx1Store(influxd_auth.url, "plnat", username="ingest", password="pw", retry=Retry(max_retries=0))
    with pytest.raises(StoreAccessDenied, match=r"the database 'plnat' \(setting telemetry.database\) does not "
                                                r"exist and cannot be created: .*requires admin privilege"):
        store.check_access()
    store.close()


@pytest.mark.integration
def test_a_retention_policy_dropped_mid_run_is_a_setting_not_an_outage(influxd_auth):
    retries: list[float] = []
    store = Influx1Store(influxd_auth.url, "plant", username="ingest", password="pw", retention_policy="weak",
                         retry=Retry(max_retries=3, base_s=0.001, sleep=retries.append))
    with pytest.raises(StoreAccessDenied,
                       match=r"retention policy not found: weak.} \(setting telemetry.retention_policy = 'weak'\)"):
        store.write(POINTS)
    assert retries == []  # not retried: another try cannot succeed
    store.close()


def test_the_influx2_ping_sends_the_token(recorded):
    """InfluxDB 3 answers ``/health`` only with a token: without it the spool was never replayed."""
    server = recorded(200, b'{"status":"pass"}', content_type="application/json")
    store = _influx2(server.url)
    store.ping()
    assert server.requests[0]["path"] == "/health" and server.requests[0]["auth"] == "Token tok"
    store.close()


@pytest.mark.integration
def test_flux_reads_from_victoria_metrics_say_it_takes_writes_only(victoria_metrics):
    store = _influx2(victoria_metrics.url)
    with pytest.raises(StoreError, match="victoria-metrics takes the influx2 backend's writes, not its reads"):
        store.query("telemetry", "P-1", T0, T0 + 1000)
    store.close()
