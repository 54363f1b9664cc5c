"""Prometheus text exposition for ``GET /metrics``.

Ingest's metrics object renders its own counters (messages received, rejected, written, write
latency, detector time) via ``render()`` / ``prometheus_text()``; the API adds open alerts and tickets
(counted in the database) and its own request counters.

>>> render_lines([("foreshock_open_alerts", "gauge", "Open alerts", {}, 3)])
'# HELP foreshock_open_alerts Open alerts\\n# TYPE foreshock_open_alerts gauge\\nforeshock_open_alerts 3\\n'
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

__all__ = ["METHODS", "ApiMetrics", "open_counts", "render_lines"]

log = logging.getLogger(__name__)

Sample = tuple[str, str, str, dict[str, str], float]


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def render_lines(samples: list[Sample]) -> str:
    out: list[str] = []
    seen: set[str] = set()
    for name, kind, help_, labels, value in samples:
        if name not in seen:
            out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
            seen.add(name)
        out.append(f"{name}{_labels(labels)} {value:g}" if isinstance(value, float) else f"{name}{_labels(labels)} {value}")
    return "\n".join(out) + "\n"


# Any other method is counted as "other": a client without a token sending made-up methods (FOO1, FOO2, ...)
# added a series per name, without bound, to this process's memory and to every scrape.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ApiMetrics:
    """Requests served, by method, route template and status class.

    >>> m = ApiMetrics(); m.count("GET", "/healthz", 200); m.count("FOO1", "/healthz", 405)
    >>> sorted(m.requests)
    [('GET', '/healthz', '2xx'), ('other', '/healthz', '4xx')]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()

    def count(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method if method in METHODS else "other", route, f"{status // 100}xx")] += 1

    def samples(self) -> list[Sample]:
        with self._lock:
            items = sorted(self.requests.items())
        return [("foreshock_api_requests_total", "counter", "HTTP requests served by the API",
                 {"method": m, "route": r, "status": s}, n) for (m, r, s), n in items]


def open_counts(session: Session) -> dict[str, int]:
    """Open alerts and open tickets."""
    from alerts.models import Alert, Ticket

    return {
        "alerts": int(session.scalar(select(func.count()).select_from(Alert).where(Alert.is_open.is_(True))) or 0),
        "tickets": int(session.scalar(select(func.count()).select_from(Ticket).where(Ticket.is_open.is_(True))) or 0),
    }


def detection_samples(detection: Any) -> list[Sample]:
    """Detector time and counts from the detection stage's ``stats`` (``DetectionStats``)."""
    stats = getattr(detection, "stats", None)
    if stats is None:
        return []
    out: list[Sample] = []
    for attr, name, help_ in (
        ("seconds", "foreshock_detector_seconds_total", "Time spent in the detectors"),
        ("snapshots", "foreshock_detector_snapshots_total", "Vibration snapshots assessed"),
        ("records", "foreshock_detector_records_total", "Scalar telemetry records assessed"),
        ("assessments", "foreshock_detector_assessments_total", "Assessments handed to the alert service"),
        ("errors", "foreshock_detector_errors_total", "Detector failures"),
        ("seq_missing", "foreshock_messages_missing_total",
         "Messages lost before Foreshock received them (gaps in the units' seq)"),
        ("same_ts_records", "foreshock_records_same_ts_total",
         "Telemetry records with the same ts as the unit's record before, another seq: stored, not assessed"),
    ):
        value = getattr(stats, attr, None)
        if isinstance(value, (int, float)):
            out.append((name, "counter", help_, {}, float(value) if attr == "seconds" else int(value)))
    return out


def external_text(metrics: Any) -> str:
    """Text of ingest's metrics object, whatever it calls its renderer."""
    if metrics is None:
        return ""
    for attr in ("prometheus", "render", "prometheus_text", "to_prometheus", "exposition"):
        fn = getattr(metrics, attr, None)
        if callable(fn):
            text = fn()
            return text if text.endswith("\n") else text + "\n"
    log.warning("ingest metrics object %r has no render(); not exported", type(metrics).__name__)
    return ""
