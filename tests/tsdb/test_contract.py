"""One contract for the backends that can be read back here: embedded (SQLite) and influx1 (real influxd)."""

from __future__ import annotations

import socket
import uuid

import pytest

from foreshock.settings import load_settings
from foreshock.tsdb import open_store
from foreshock.tsdb.base import Point, StoreError, StoreUnavailable, TelemetryStore
from foreshock.tsdb.embedded import EmbeddedStore
from foreshock.tsdb.influx1 import Influx1Store
from foreshock.tsdb.retry import Retry

T0 = 1_700_000_000_000


@pytest.fixture(params=["embedded", pytest.param("influx1", marks=pytest.mark.integration)])
def store(request, tmp_path) -> TelemetryStore:
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "telemetry.db")
    else:
        server = request.getfixturevalue("influxd")
        s = Influx1Store(server.url, f"c_{uuid.uuid4().hex[:8]}")
    yield s
    s.close()


def test_write_then_query_oldest_first_within_range(store):
    store.write([Point("telemetry", {"device": "P-1"}, {"t": float(i), "h": 2.0 * i}, T0 + 1000 * i) for i in range(10)])
    store.write([Point("telemetry", {"device": "P-2"}, {"t": 99.0}, T0)])
    rows = store.query("telemetry", "P-1", T0 + 2000, T0 + 5000)
    assert [r.ts_ms for r in rows] == [T0 + 2000, T0 + 3000, T0 + 4000]
    assert rows[0].fields == {"t": 2.0, "h": 4.0}
    assert [r.fields for r in store.query("telemetry", "P-1", T0, T0 + 3000, ["h"])] == [{"h": 0.0}, {"h": 2.0}, {"h": 4.0}]
    assert len(store.query("telemetry", "P-1", T0, T0 + 100_000, limit=4)) == 4
    assert store.query("telemetry", "P-3", T0, T0 + 100_000) == []


def test_downsampling_averages_windows(store):
    store.write([Point("telemetry", {"device": "P-1"}, {"t": float(i)}, T0 + 1000 * i) for i in range(6)])
    rows = store.query("telemetry", "P-1", T0, T0 + 6000, ["t"], every_ms=2000)
    assert [(r.ts_ms, r.fields["t"]) for r in rows] == [(T0, 0.5), (T0 + 2000, 2.5), (T0 + 4000, 4.5)]


def test_same_point_twice_is_one_point(store):
    p = Point("telemetry", {"device": "P-1"}, {"t": 1.5}, T0)
    store.write([p])
    store.write([p, p])
    assert len(store.query("telemetry", "P-1", T0 - 1, T0 + 1)) == 1


def test_tags_separate_series(store):
    store.write([
        Point("vibration", {"device": "P-1", "axis": "x"}, {"rms_g": 1.0, "n": 4096}, T0),
        Point("vibration", {"device": "P-1", "axis": "y"}, {"rms_g": 2.0, "n": 4096}, T0),
    ])
    rows = store.query("vibration", "P-1", T0, T0 + 1, tags={"axis": "y"})
    assert [r.fields for r in rows] == [{"rms_g": 2.0, "n": 4096}]


def test_ping_answers(store):
    store.ping()


def test_bad_arguments_are_named(store):
    with pytest.raises(ValueError, match="limit"):
        store.query("telemetry", "P-1", 0, 1, limit=0)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_influx1_unreachable_is_store_unavailable():
    store = Influx1Store(f"http://127.0.0.1:{_closed_port()}", "x", retry=Retry(max_retries=1, base_s=0.01))
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, T0)])
    with pytest.raises(StoreUnavailable):
        store.ping()


@pytest.mark.integration
def test_influx1_field_type_conflict_is_store_error(influxd):
    store = Influx1Store(influxd.url, f"c_{uuid.uuid4().hex[:8]}", retry=Retry(max_retries=0))
    store.write([Point("telemetry", {"device": "P-1"}, {"t": 1.0}, T0)])
    with pytest.raises(StoreError, match="HTTP 400") as info:
        store.write([Point("telemetry", {"device": "P-1"}, {"t": "text"}, T0 + 1)])
    assert not isinstance(info.value, StoreUnavailable)


def test_embedded_point_without_device_is_refused(tmp_path):
    store = EmbeddedStore(tmp_path / "t.db")
    with pytest.raises(StoreError, match="no 'device' tag"):
        store.write([Point("telemetry", {}, {"t": 1.0}, T0)])
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.ping()


def test_open_store_follows_settings(tmp_path):
    store = open_store(load_settings(data_dir=tmp_path))
    assert isinstance(store, EmbeddedStore) and store.path == tmp_path / "telemetry.db"
    store.close()
    s1 = open_store(load_settings(data_dir=tmp_path, telemetry={"backend": "influx1", "url": "http://127.0.0.1:1"}))
    assert isinstance(s1, Influx1Store)
    s1.close()
