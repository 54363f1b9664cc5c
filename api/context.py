"""Everything the web layer needs from the rest of the product, handed in by whoever starts it.

The lead's ``foreshock run`` builds one :class:`AppContext` from the running services; tests build
one from a database and whatever real services they need. Parts that are absent are ``None`` and
the routes that need them answer 503 with a message naming the missing part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.events import EventBus
from api.snapshots import LatestSnapshots
from foreshock.settings import Settings

__all__ = ["AppContext"]


@dataclass
class AppContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    store: Any | None = None  # foreshock.tsdb.TelemetryStore
    registry: Any | None = None  # devices.registry.Registry
    alerts: Any | None = None  # alerts.service.AlertService
    metrics: Any | None = None  # ingest.metrics object (prometheus text via .render() or counters)
    deadletters: Any | None = None  # ingest.deadletter.DeadLetterStore
    detection: Any | None = None  # foreshock.detection.DetectionStage (its .stats feed /metrics)
    probes: dict[str, Callable[[], None]] = field(default_factory=dict)  # name -> raise on failure
    events: EventBus = field(default_factory=EventBus)
    latest_snapshots: LatestSnapshots = field(default_factory=LatestSnapshots)
