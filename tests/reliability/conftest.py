"""Fixtures of the reliability tests: those of the ingest and API tests, reused, and an ingest
service writing to a real influxd that a test can stop and restart (:func:`influx_ingest`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from foreshock.broker import free_port
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings
from foreshock.tsdb.influx1 import Influx1Store
from ingest.deadletter import DeadLetterStore
from ingest.service import IngestService
from tests.api.conftest import client, ctx, tokens, world  # noqa: F401 - fixtures
from tests.ingest.conftest import publisher, unique  # noqa: F401 - fixtures
from tests.servers import PLATFORM_PASSWORD, PLATFORM_USER
from tests.tsdb_servers import InfluxdServer


def ingest_settings(mosquitto: Any, tmp_path: Path, client_prefix: str, telemetry: dict[str, Any],
                    ingest: dict[str, Any] | None = None) -> Any:
    """Settings of an ingest service on the test broker (platform user, a fresh client id)."""
    return load_settings(
        data_dir=tmp_path,
        mqtt={"url": mosquitto.url, "username": PLATFORM_USER, "password": PLATFORM_PASSWORD,
              "client_id": f"{client_prefix}-{uuid.uuid4().hex[:8]}"},
        telemetry=telemetry,
        ingest=ingest or {},
    )


@contextmanager
def influx_ingest(mosquitto: Any, tmp_path: Path, database: str,
                  ingest: dict[str, Any] | None = None) -> Iterator[tuple[IngestService, Influx1Store, InfluxdServer]]:
    """A started ingest service on ``mosquitto`` writing to an influxd on a fixed free port.

    The influxd is NOT started: the test calls ``server.start()`` (its data stays in
    ``tmp_path / "influxd"`` across a ``stop()`` and a new ``start()`` on the same port). Retries are
    short (one retry, 0.5 s), so an outage reaches the spool quickly; the probe runs every 0.2 s.
    """
    port = free_port()
    engine = make_engine(f"sqlite:///{tmp_path / 'rel.db'}")
    migrate(engine)
    settings = ingest_settings(
        mosquitto, tmp_path, database,
        {"backend": "influx1", "url": f"http://127.0.0.1:{port}", "database": database, "batch_size": 500,
         "flush_interval_s": 0.05, "max_retries": 1, "max_retry_time_s": 0.5, "timeout_s": 2},
        ingest,
    )
    store = Influx1Store.from_settings(settings.telemetry)
    service = IngestService(settings, store, DeadLetterStore(session_factory(engine)), device_check=None,
                            probe_interval_s=0.2)
    (tmp_path / "influxd").mkdir()
    server = InfluxdServer(workdir=tmp_path / "influxd", port=port)
    service.start()
    try:
        assert service.source.wait_connected(60)
        yield service, store, server
    finally:
        service.stop(2)
        store.close()
        server.stop()
        engine.dispose()
