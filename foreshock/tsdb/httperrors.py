"""Map HTTP outcomes to the store's two errors: StoreUnavailable (retry later) or StoreError (bad data)."""

from __future__ import annotations

import re

from foreshock.tsdb.base import StoreAccessDenied, StoreError, StoreUnavailable

__all__ = ["error_for_status", "is_retryable_status", "redact", "unavailable"]

# The request's credentials or target are wrong, not its data: 401 and 403 always; 404 only where
# the caller says so (a write's 404 is a missing database, bucket or organisation).
_ACCESS = (401, 403)


def is_retryable_status(status: int) -> bool:
    """429 and 5xx: the server is overloaded or broken, the data may be fine."""
    return status == 429 or status >= 500


def error_for_status(status: int, body: str, what: str, *, not_found_is_access: bool = False) -> StoreError:
    """:class:`StoreAccessDenied` (credentials, or with ``not_found_is_access`` a 404), :class:`StoreUnavailable`
    (429, 5xx) or :class:`StoreError` (the data: any other 4xx).

    >>> type(error_for_status(401, '{"error":"authorization failed"}', "influx1 write")).__name__
    'StoreAccessDenied'
    >>> type(error_for_status(400, "field type conflict", "influx1 write")).__name__
    'StoreError'
    """
    text = " ".join(body.split())[:300]
    if status in _ACCESS or (status == 404 and not_found_is_access):
        return StoreAccessDenied(f"{what}: HTTP {status}: {text}")
    if is_retryable_status(status):
        return StoreUnavailable(f"{what}: HTTP {status}: {text}")
    return StoreError(f"{what}: HTTP {status}: {text}")


def unavailable(exc: BaseException, url: str, what: str) -> StoreUnavailable:
    """The store could not be reached; the message names the URL, without any password in it."""
    return StoreUnavailable(redact(f"{what}: cannot reach {url}: {type(exc).__name__}: {exc}"))


_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@")
_SECRET_PARAM = re.compile(r"(?i)([?&](?:p|password|token|secret|api_key)=)[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` without the passwords that URLs in error messages may carry (``user:password@``, ``p=``).

    >>> redact("cannot reach http://writer:s3cret@influx:8086/write?db=x&u=writer&p=s3cret (refused)")
    'cannot reach http://writer:***@influx:8086/write?db=x&u=writer&p=*** (refused)'
    """
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1:***@", text))
