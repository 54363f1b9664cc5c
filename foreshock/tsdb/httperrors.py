"""Map HTTP outcomes to the store's two errors: StoreUnavailable (retry later) or StoreError (bad data)."""

from __future__ import annotations

import httpx

from foreshock.tsdb.base import StoreError, StoreUnavailable

__all__ = ["error_for_status", "is_retryable_status"]


def is_retryable_status(status: int) -> bool:
    """429 and 5xx: the server is overloaded or broken, the data may be fine."""
    return status == 429 or status >= 500


def error_for_status(status: int, body: str, what: str) -> StoreError:
    text = " ".join(body.split())[:300]
    if is_retryable_status(status):
        return StoreUnavailable(f"{what}: HTTP {status}: {text}")
    return StoreError(f"{what}: HTTP {status}: {text}")


def unavailable(exc: httpx.HTTPError, url: str, what: str) -> StoreUnavailable:
    return StoreUnavailable(f"{what}: cannot reach {url}: {type(exc).__name__}: {exc}")
