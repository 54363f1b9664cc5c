"""Map HTTP outcomes to the store's two errors: StoreUnavailable (retry later) or StoreError (bad data)."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from foreshock.tsdb.base import PayloadTooLarge, StoreAccessDenied, StoreError, StoreUnavailable

__all__ = ["error_for_status", "is_retryable_status", "plain_http_to_tls", "redact", "tls_problem", "unavailable",
           "url_problem"]

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
    if status == 400 and _PLAIN_TO_TLS in body:
        return StoreAccessDenied(f"{what}: HTTP 400: {text} The server speaks https: check the setting "
                                 "telemetry.url (https://, not http://)")
    if status == 404 and text == "404 page not found":  # the server's router, not InfluxDB's "database not found"
        return StoreAccessDenied(f"{what}: HTTP 404: {text}: no such API at this address; check the setting "
                                 "telemetry.url (the server's base URL, e.g. http://influx:8086)")
    if status in _ACCESS or (status == 404 and not_found_is_access):
        return StoreAccessDenied(f"{what}: HTTP {status}: {text}")
    if is_retryable_status(status):
        return StoreUnavailable(f"{what}: HTTP {status}: {text}")
    if status == 413:  # a size limit (the store's, or a proxy's such as nginx's client_max_body_size)
        return PayloadTooLarge(f"{what}: HTTP 413: {text}")
    return StoreError(f"{what}: HTTP {status}: {text}")


def unavailable(exc: BaseException, url: str, what: str, timeout_s: float | None = None) -> StoreUnavailable:
    """The store could not be reached, or did not answer in time; the message names the URL, without
    any password in it, and for a store that took the request but did not answer within ``timeout_s``
    the setting (it said "cannot reach", which sends one to look at the network, not at a slow store).
    A TLS handshake that cannot succeed (see :func:`tls_problem`) is a :class:`StoreAccessDenied`."""
    text = f"{type(exc).__name__}: {exc}"
    problem = tls_problem(text)
    if problem:
        return StoreAccessDenied(redact(f"{what}: {url}: {text}: {problem}"))
    if _is_answer_timeout(exc):
        within = f" within {timeout_s:g} s (telemetry.timeout_s)" if timeout_s else " in time"
        return StoreUnavailable(redact(f"{what}: no answer from {url}{within}: the store is slow or overloaded "
                                       f"({text})"))
    if any(sign in text for sign in _HUNG_UP):  # a server, but not an HTTP one: likely the wrong port
        return StoreUnavailable(redact(f"{what}: cannot reach {url}: {text}: the server there took the connection and "
                                       "closed it without an HTTP answer: is telemetry.url the store's HTTP address "
                                       "and port (InfluxDB's is 8086)?"))
    return StoreUnavailable(redact(f"{what}: cannot reach {url}: {text}"))


# what httpx and urllib3 say when a server takes the connection and closes it without answering
_HUNG_UP = ("Server disconnected without sending a response", "Connection reset by peer", "RemoteDisconnected")


def _is_answer_timeout(exc: BaseException) -> bool:
    """The request was sent (or being sent) and no answer came in time: not a connection failure."""
    import httpx

    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return True
    try:
        from urllib3.exceptions import ReadTimeoutError
    except ImportError:  # pragma: no cover - urllib3 comes with influxdb-client
        return False
    return isinstance(exc, ReadTimeoutError)


# Go's net/http answer to plain HTTP on a TLS port (InfluxDB, victoria-metrics)
_PLAIN_TO_TLS = "Client sent an HTTP request to an HTTPS server"
# OpenSSL's reasons when the other side does not speak TLS (1.1: wrong version number, 3.x: record layer failure)
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "record layer failure", "PACKET_LENGTH_TOO_LONG",
            "UNKNOWN_PROTOCOL", "HTTP_REQUEST")


def tls_problem(text: str) -> str | None:
    """What to correct when an error text says the TLS handshake cannot succeed, else ``None``.
    Such a failure is a setting, not an outage: retrying and spooling would go on for ever.

    >>> tls_problem("ConnectError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    'the server does not speak TLS there: check the setting telemetry.url (http://, not https://)'
    >>> tls_problem("ConnectError: [Errno 111] Connection refused") is None
    True
    """
    if any(reason in text for reason in _NOT_TLS):
        return "the server does not speak TLS there: check the setting telemetry.url (http://, not https://)"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ("its TLS certificate is not trusted: check the setting telemetry.url (the host name the "
                "certificate names), or give the CA that signed it in the environment variable SSL_CERT_FILE")
    return None


def plain_http_to_tls(url: str, exc: StoreUnavailable, timeout_s: float = 5.0) -> StoreAccessDenied | None:
    """When an ``http://`` request failed without an answer (some TLS servers, e.g. victoria-metrics,
    just hang up on plain HTTP) and the address completes a TLS handshake: the error naming
    ``telemetry.url``. Only for the check at start: it opens a connection of its own."""
    parts = urlsplit(url)
    if parts.scheme != "http" or isinstance(exc, StoreAccessDenied) or not parts.hostname:
        return None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only: does it speak TLS at all
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s) as sock:
            with context.wrap_socket(sock, server_hostname=parts.hostname):
                pass
    except (OSError, ValueError):
        return None
    said = str(exc).split(": the server there took the connection", 1)[0]  # not the wrong port: the wrong scheme
    return StoreAccessDenied(f"{said}: the server at {parts.hostname}:{parts.port or 80} speaks TLS: check the "
                             "setting telemetry.url (https://, not http://)")


# Paths a base URL must not end in: an API endpoint given where the server's address belongs
_ENDPOINTS = ("/api/v2/write", "/api/v2/query", "/api/v2", "/write", "/query", "/ping", "/health")  # longest first


def ping_refused(status: int, text: str, url: str, what: str) -> StoreError:
    """What a failed ping of an HTTP backend means: an outage (retry), or no store at ``url`` at all
    (a setting: ingest replays the spool only once the ping passes, so it must be named)."""
    err = error_for_status(status, text, what)
    if isinstance(err, StoreUnavailable):  # retryable (429, 5xx), or already a named setting (a subclass)
        return err
    return StoreAccessDenied(f"{err}: no InfluxDB at {url}; check the setting telemetry.url (the server's base "
                             "URL, e.g. http://influx:8086)")


def check_store_access(url: str, write: Callable[[], None], ping: Callable[[], None]) -> None:
    """The start-up check of both HTTP backends: ``telemetry.url``'s shape, then an empty ``write``
    (credentials and target) and a ``ping``; a failure to connect that is http spoken to a TLS port
    (or the reverse) is named as that, a setting, not an outage."""
    problem = url_problem(url)
    if problem:
        raise StoreAccessDenied(problem)
    try:
        write()
        ping()
    except StoreUnavailable as exc:
        raise plain_http_to_tls(url, exc) or exc


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the store's base URL (``telemetry.url``), else ``None``. A path is allowed (a
    reverse proxy's prefix, e.g. ``https://gw/influx``), an API endpoint or a query is not: the client
    appends the endpoint to the path and puts its own query after it.

    >>> url_problem("http://influx:8086/write?db=plant")
    "setting telemetry.url ('http://influx:8086/write?db=plant'): give the server's base URL without a query (the database, bucket and organisation have settings of their own), e.g. http://influx:8086"
    >>> url_problem("https://gw.example.com/influx") is None
    True
    """
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if parts.query or parts.fragment:
        return (f"setting telemetry.url ({redact(url)!r}): give the server's base URL without a query (the database, "
                f"bucket and organisation have settings of their own), e.g. {redact(base)}")
    path = parts.path.rstrip("/")
    for endpoint in _ENDPOINTS:
        if path.endswith(endpoint):
            return (f"setting telemetry.url ({redact(url)!r}): give the server's base URL, not its API endpoint "
                    f"{endpoint}: e.g. {redact(base + path[: -len(endpoint)])}")
    return None


_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@")
_SECRET_PARAM = re.compile(r"(?i)([?&](?:p|password|token|secret|api_key)=)[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` without the passwords that URLs in error messages may carry (``user:password@``, ``p=``).

    >>> redact("cannot reach http://writer:s3cret@influx:8086/write?db=x&u=writer&p=s3cret (refused)")
    'cannot reach http://writer:***@influx:8086/write?db=x&u=writer&p=*** (refused)'
    """
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1:***@", text))
