"""Helpers to build an :class:`AppContext` for tests, doctests and demos (SQLite, tables migrated)."""

from __future__ import annotations

from api.context import AppContext
from foreshock.db import make_engine, migrate, session_factory
from foreshock.settings import load_settings

__all__ = ["context_for", "memory_context"]


def context_for(url: str, **parts) -> AppContext:
    """A context on the database at ``url`` (migrated), with ``parts`` (store=..., registry=...)."""
    engine = make_engine(url)
    migrate(engine)
    return AppContext(settings=load_settings(database={"url": url}), session_factory=session_factory(engine), **parts)


def memory_context(**parts) -> AppContext:
    """A context on a private in-memory SQLite database."""
    from sqlalchemy.pool import StaticPool

    engine = make_engine("sqlite://", poolclass=StaticPool)
    migrate(engine)
    return AppContext(settings=load_settings(), session_factory=session_factory(engine), **parts)
