"""Telemetry store: one small interface (:class:`TelemetryStore`), three backends.

Use :func:`open_store` with the settings to get the configured backend.
"""

from __future__ import annotations

from foreshock.tsdb.base import Point, Row, StoreAccessDenied, StoreError, StoreUnavailable, TelemetryStore

__all__ = ["Point", "Row", "StoreAccessDenied", "StoreError", "StoreUnavailable", "TelemetryStore", "open_store"]


def open_store(settings) -> TelemetryStore:
    """The backend named by ``settings.telemetry.backend``."""
    backend = settings.telemetry.backend
    if backend == "embedded":
        from foreshock.tsdb.embedded import EmbeddedStore

        return EmbeddedStore(settings.telemetry_path)
    if backend == "influx1":
        from foreshock.tsdb.influx1 import Influx1Store

        return Influx1Store.from_settings(settings.telemetry)
    if backend == "influx2":
        from foreshock.tsdb.influx2 import Influx2Store

        return Influx2Store.from_settings(settings.telemetry)
    raise ValueError(f"unknown telemetry backend {backend!r}")
