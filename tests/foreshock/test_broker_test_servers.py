"""The test suite's influxd and victoria-metrics (tests/tsdb_servers.py) when a port chosen free is taken
before the server binds it: the server exits "address already in use", and the old wait took the other
process's listening socket for the server (the start returned, the server was gone)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tests.tsdb_servers as tsdb_servers
from tests.servers import distinct_free_ports
from tests.tsdb_servers import InfluxdServer, VictoriaMetricsServer

pytestmark = [pytest.mark.integration]


def _installed(name: str) -> bool:
    return bool(shutil.which(name) or Path(f"/usr/bin/{name}").exists())


@pytest.fixture
def taken() -> Iterator[socket.socket]:
    """A port of this process, listening: what another process that took the port looks like."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s
    s.close()


def _first_pick(monkeypatch, port: int, index: int = 0) -> None:
    """The first ports chosen free include ``port`` (at ``index``); later ones are really free."""
    calls = []

    def picks(n: int) -> list[int]:
        ports = distinct_free_ports(n)
        if not calls:
            ports[index] = port
        calls.append(n)
        return ports

    monkeypatch.setattr(tsdb_servers, "distinct_free_ports", picks)


@pytest.mark.skipif(not _installed("victoria-metrics"), reason="victoria-metrics is not installed")
def test_victoria_metrics_on_a_port_taken_meanwhile_starts_on_another(monkeypatch, taken, tmp_path):
    """Seen failing on the old code: start() returned with the taken port, victoria-metrics gone."""
    port = taken.getsockname()[1]
    _first_pick(monkeypatch, port)
    server = VictoriaMetricsServer(workdir=tmp_path).start()
    try:
        assert server.port != port and server.running
        assert httpx.get(f"{server.url}/health", timeout=30).text.strip() == "OK"
        assert "address already in use" in (tmp_path / "victoria-metrics.log").read_text().lower()
    finally:
        server.stop()


@pytest.mark.skipif(not _installed("influxd"), reason="influxd is not installed")
@pytest.mark.parametrize("which", ["port", "rpc_port"])
def test_influxd_on_a_port_taken_meanwhile_starts_on_others(monkeypatch, taken, tmp_path, which):
    """Seen failing on the old code for the HTTP port (start() returned, influxd gone). The RPC port passes
    on the old code too: influxd binds it first and exits before the HTTP port listens."""
    port = taken.getsockname()[1]
    _first_pick(monkeypatch, port, index=("port", "rpc_port").index(which))
    server = InfluxdServer(workdir=tmp_path).start()
    try:
        assert port not in (server.port, server.rpc_port) and server.running
        assert httpx.get(f"{server.url}/ping", timeout=30).headers.get("X-Influxdb-Version")
    finally:
        server.stop()


@pytest.mark.skipif(not _installed("victoria-metrics"), reason="victoria-metrics is not installed")
def test_a_given_port_in_use_is_an_error_showing_the_servers_words(taken, tmp_path):
    port = taken.getsockname()[1]
    server = VictoriaMetricsServer(workdir=tmp_path, port=port)
    with pytest.raises(tsdb_servers.PortTaken) as info:
        server.start()
    assert "victoria-metrics did not start" in str(info.value)
    assert "address already in use" in str(info.value).lower()  # its own log line, in the message
    assert not server.running
