"""Fixtures of the reliability tests: the ingest tests' publisher and helpers, reused."""

from __future__ import annotations

from tests.ingest.conftest import publisher, unique  # noqa: F401 - fixtures
from tests.api.conftest import client, ctx, tokens, world  # noqa: F401,E402 - fixtures of the API tests
