"""The relational database goes away: alert updates queue (in order, on disk) and are applied when it
returns, with no duplicates; ``/readyz`` answers 503 naming the cause; a restart applies the queue."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from alerts.models import Alert
from alerts.service import AlertService
from api.app import create_app
from api.testing import context_for
from detectors.config import MonitorConfig
from detectors.types import Assessment
from devices.protocol import ParsedMessage, TelemetryRecord
from foreshock.db import make_engine, migrate, session_factory
from foreshock.detection import DetectionStage
from ingest.types import IngestedMessage
from tests.reliability.proxy import TcpProxy
from tests.servers import create_postgres_database


class WarningMonitor:
    """A monitor that reports a warning for every record, with a failure mode per record time (so
    each assessment is a new alert: a database write)."""

    def __init__(self) -> None:
        self.config = MonitorConfig()

    def update_scalars(self, ts, values):
        mode = f"mode_{round(ts * 1000) % 10}"
        return Assessment(ts=ts, state="warning", reasons=["test"], failure_mode=mode, scores={"z": 5.0})

    def state_dict(self):
        return {}


def tel(device: str, seq: int, ts_ms: int) -> IngestedMessage:
    parsed = ParsedMessage(device, "telemetry", records=(TelemetryRecord(ts_ms, seq, {"load": 1.0}),))
    return IngestedMessage(device, "telemetry", parsed, None, ts_ms / 1000, f"foreshock/v1/{device}/telemetry")


class FlakyAlerts:
    def __init__(self) -> None:
        self.down = True
        self.applied: list[str] = []

    def handle_assessment(self, device_id, assessment, *, source_key):
        if self.down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused (test)"))
        if source_key not in self.applied:
            self.applied.append(source_key)
        return []


def test_queued_in_order_retried_and_persisted_across_a_restart(sessions, tmp_path):
    alerts = FlakyAlerts()
    pending = tmp_path / "pending.jsonl"
    stage = DetectionStage(sessions, alerts=alerts, monitor_factory=lambda m: WarningMonitor(),
                           pending_path=pending, alert_retry_s=0.0)
    stage.on_batch([tel("U-1", i, 1_700_000_000_000 + i) for i in range(5)])
    assert stage.alert_backlog == 5 and "database unavailable" in stage.alert_error and pending.exists()
    stage.close()  # still down: kept on disk
    assert alerts.applied == [] and len(pending.read_text().splitlines()) == 5

    restarted = DetectionStage(sessions, alerts=alerts, monitor_factory=lambda m: WarningMonitor(),
                               pending_path=pending, alert_retry_s=0.0)
    assert restarted.alert_backlog == 5
    alerts.down = False
    restarted.on_batch([tel("U-1", 5, 1_700_000_000_005)])
    assert alerts.applied == [f"U-1:telemetry:{i}:{1_700_000_000_000 + i}" for i in range(6)]  # in order
    assert restarted.alert_backlog == 0 and restarted.alert_error is None and not pending.exists()
    assert restarted.stats.alerts_retried == 5 and restarted.stats.alerts_dropped == 0


def test_full_queue_drops_the_oldest_counted(sessions):
    alerts = FlakyAlerts()
    stage = DetectionStage(sessions, alerts=alerts, monitor_factory=lambda m: WarningMonitor(),
                           max_pending_alerts=3, alert_retry_s=0.0)
    stage.on_batch([tel("U-1", i, 1_700_000_000_000 + i) for i in range(5)])
    assert stage.alert_backlog == 3 and stage.stats.alerts_dropped == 2
    alerts.down = False
    stage.flush()
    assert [k.split(":")[2] for k in alerts.applied] == ["2", "3", "4"]
    with pytest.raises(ValueError, match="max_pending_alerts"):
        DetectionStage(sessions, max_pending_alerts=0)


def _migrated_postgres():
    """A fresh, migrated PostgreSQL database of this test: (url, drop, engine); skipped without a server."""
    created = create_postgres_database()
    if isinstance(created, str):
        pytest.skip(created)
    url, drop = created
    direct = make_engine(url)
    migrate(direct)
    return url, drop, direct


@pytest.mark.integration
def test_postgres_cut_off_alerts_queue_readyz_503_then_applied_once(tmp_path):
    url, drop, direct = _migrated_postgres()
    host_port = direct.url.port or 5432
    proxy = TcpProxy(direct.url.host or "127.0.0.1", host_port)
    proxied_url = direct.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = make_engine(proxied_url)
    sessions = session_factory(engine)
    try:
        alerts = AlertService(sessions)
        stage = DetectionStage(sessions, alerts=alerts, monitor_factory=lambda m: WarningMonitor(),
                               pending_path=tmp_path / "pending.jsonl", alert_retry_s=0.0)
        ctx = context_for(proxied_url)
        ctx.probes = {"alert_queue": lambda: (_ for _ in ()).throw(RuntimeError(stage.alert_error))
                      if stage.alert_backlog else None}
        client = TestClient(create_app(ctx))
        assert client.get("/readyz").status_code == 200

        devices = [f"U-{uuid.uuid4().hex[:6]}" for _ in range(3)]
        stage.on_batch([tel(d, 0, 1_700_000_000_000) for d in devices])  # known units (state loaded) while up
        proxy.cut()
        stage.on_batch([tel(d, i, 1_700_000_000_000 + i) for i in range(1, 4) for d in devices])
        assert stage.alert_backlog == 9 and stage.stats.alerts_queued == 9
        ready = client.get("/readyz")
        body = ready.json()
        assert ready.status_code == 503 and body["checks"]["database"].startswith("error: OperationalError")
        assert "database unavailable" in body["checks"]["alert_queue"]

        proxy.restore()
        stage.flush()
        assert stage.alert_backlog == 0 and stage.stats.alerts_retried == 9
        assert client.get("/readyz").status_code == 200
        stage.on_batch([tel(d, 1, 1_700_000_000_001) for d in devices])  # redelivered: no new alerts
        with session_factory(direct)() as s:
            per_device = dict(s.execute(select(Alert.device_id, func.count()).where(Alert.device_id.in_(devices))
                                        .group_by(Alert.device_id)).all())
        assert per_device == {d: 4 for d in devices}  # one alert per unit and failure mode, none lost or twice
        stage.close()
    finally:
        proxy.close()
        engine.dispose()
        direct.dispose()
        drop()


@pytest.mark.integration
def test_postgres_cut_off_ingest_goes_on_for_the_units_it_knows(tmp_path, caplog):
    """With PostgreSQL cut off, `foreshock run` stored no telemetry at all once the registry's cache
    expired (`devices.cache_ttl_s`): every batch failed its device check ("device check failed;
    retrying the batch", a traceback a second) though the telemetry store was up. Units seen before
    the outage now go on; a unit first heard of during it waits (its batch raises: unacknowledged)."""
    import logging
    import time

    import numpy as np

    from devices.protocol import telemetry_payload, topic, vibration_payload
    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings
    from ingest.types import RawMessage

    url, drop, direct = _migrated_postgres()
    proxy = TcpProxy(direct.url.host or "127.0.0.1", direct.url.port or 5432)
    proxied_url = direct.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    direct.dispose()
    pipe = Pipeline(load_settings(data_dir=tmp_path, database={"url": proxied_url}, devices={"cache_ttl_s": 0.2}),
                    PipelineOptions(api=False))
    samples = np.sin(np.arange(2048) * 0.3).astype("float32")

    def batch(device: str, ts_ms: int) -> list[RawMessage]:
        return [RawMessage(topic(device, "telemetry"), telemetry_payload(ts_ms, 1, {"temperature_c": 40.0}), time.time()),
                RawMessage(topic(device, "vibration"), vibration_payload(ts_ms, 2, samples, 25600.0, rpm=1780), time.time())]

    try:
        pipe.registry.create_model("PUMP-6205", rated_rpm=1780, bearing={"n_balls": 9, "ball_d": 7.94, "pitch_d": 39.04})
        for device in ("P-1", "P-2"):
            pipe.registry.create_unit(device, model="PUMP-6205")
        convert = pipe.ingest.converter.convert
        ts = int(time.time() * 1000) - 60_000
        before, rejected = convert(batch("P-1", ts))
        assert len(before) == 2 and rejected == []

        proxy.cut()
        time.sleep(0.5)  # the registry's cached view has expired
        with caplog.at_level(logging.INFO, logger="foreshock.service"):
            during, rejected = convert(batch("P-1", ts + 1000))
            assert [a.message.kind for a in during] == ["telemetry", "vibration"] and rejected == []
            assert during[1].message.features == before[1].message.features  # with the model's bearing lines
            convert(batch("P-1", ts + 2000))
            with pytest.raises(OperationalError):  # never asked about before: held, not refused
                convert(batch("P-2", ts + 1000))

            proxy.restore()
            after, rejected = convert(batch("P-2", ts + 2000))
            assert len(after) == 2 and rejected == []
        said = [r.getMessage() for r in caplog.records]
        assert len([m for m in said if m.startswith("database unavailable")]) == 1, said
        assert "ingest goes on for the 1 units seen registered before, from memory" in said[0]
        assert said[-1] == "database back: ingest asks the registry again"
    finally:
        pipe.stop(timeout_s=5)
        proxy.close()
        drop()
