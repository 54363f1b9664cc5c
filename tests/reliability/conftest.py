"""Fixtures of the reliability tests: the ingest tests' publisher and helpers, reused."""

from __future__ import annotations

from tests.ingest.conftest import publisher, unique  # noqa: F401 - fixtures
