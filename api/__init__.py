"""The web layer: REST API under ``/api/v1``, a server-sent event stream, and the dashboard.

:func:`api.app.create_app` builds the FastAPI application from an :class:`api.context.AppContext`
(settings, database, telemetry store and the other parts' service objects). Nothing else in the
product imports this package.
"""

from __future__ import annotations

__all__ = ["AppContext", "create_app"]


def __getattr__(name: str):  # lazy: importing api.models must not pull in FastAPI
    if name == "create_app":
        from api.app import create_app

        return create_app
    if name == "AppContext":
        from api.context import AppContext

        return AppContext
    raise AttributeError(name)
