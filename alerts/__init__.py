"""Alerts, proactive quality tickets, notifications and reports: the service team's closed loop.

- :class:`alerts.service.AlertService`: ``handle_assessment(device_id, assessment, source_key=...)``
  for every detector assessment (cheap when nothing changes, idempotent per message), ``tick(now)``
  for SLA clocks and silent units, and the service desk operations (ack, move, assign, comment,
  8D, feedback, maintenance windows).
- :class:`alerts.notify.Notifier`: routing rules, durable delivery log, signed webhooks, SMTP.
- :mod:`alerts.reports`: monthly report (JSON/CSV) and field precision.
- :class:`alerts.config.AlertConfig`: every threshold and clock, with defaults.

See ``docs/quality-loop.md``.
"""

from __future__ import annotations

__all__ = ["AlertConfig", "AlertService", "Change", "Notifier"]


def __getattr__(name: str):  # lazy: importing the package stays cheap (no SQLAlchemy models)
    if name == "AlertConfig":
        from alerts.config import AlertConfig

        return AlertConfig
    if name in ("AlertService", "Change"):
        from alerts import service

        return getattr(service, name)
    if name == "Notifier":
        from alerts.notify import Notifier

        return Notifier
    raise AttributeError(f"module 'alerts' has no attribute {name!r}")
