"""Fixtures of the reliability tests: those of the ingest and API tests, reused."""

from __future__ import annotations

from tests.api.conftest import client, ctx, tokens, world  # noqa: F401 - fixtures
from tests.ingest.conftest import publisher, unique  # noqa: F401 - fixtures
