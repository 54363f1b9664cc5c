"""Ingest: MQTT messages in, validated telemetry into the telemetry store, rejects into dead letters.

- :class:`ingest.service.IngestService` runs it (one worker thread, start/stop).
- :mod:`ingest.mqtt` is the only module that touches paho-mqtt.
- :mod:`ingest.pipeline` validates (with :mod:`devices.protocol`) and converts to points.
- :mod:`ingest.writer` writes durably: the store, or the on-disk :mod:`ingest.spool` when it is down.
- :mod:`ingest.deadletter` keeps every rejected message with its reason.
- :mod:`ingest.metrics` counts everything.
- :class:`ingest.types.IngestedMessage` is what the rest of the pipeline receives (``on_batch``).
"""

from __future__ import annotations

__all__ = ["DeadLetterStore", "IngestMetrics", "IngestService", "IngestedMessage"]


def __getattr__(name: str):  # lazy: importing ingest.types must not start paho imports
    if name == "IngestService":
        from ingest.service import IngestService

        return IngestService
    if name == "IngestedMessage":
        from ingest.types import IngestedMessage

        return IngestedMessage
    if name == "DeadLetterStore":
        from ingest.deadletter import DeadLetterStore

        return DeadLetterStore
    if name == "IngestMetrics":
        from ingest.metrics import IngestMetrics

        return IngestMetrics
    raise AttributeError(name)
