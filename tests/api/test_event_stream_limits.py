"""Live-update streams are capped per token (``api.max_event_streams_per_token``) and in all
(``api.max_event_streams``). Any number of ``GET /api/v1/events`` streams was accepted: a kiosk page or a
script that opened streams in a loop held a task, a queue and a connection for each until the server's
memory ran out. One over a cap now gets 429 naming the cap and its setting, with ``Retry-After``, and a
stream frees its slot as soon as it ends.

Against a real uvicorn server: only a real connection can be closed by its client mid-stream.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from api.app import create_app
from api.testing import context_for
from foreshock.settings import SettingsError, load_settings
from tests.api.conftest import make_tokens

pytestmark = pytest.mark.integration  # a uvicorn server

PER_TOKEN, TOTAL = 3, 5
DEADLINE_S = 30.0  # generous: a slot is freed at once, the suite may share two loaded cores


@pytest.fixture
def server(tmp_path):
    """(base URL, tokens by role, the app) of a server with small stream caps."""
    import uvicorn

    url = f"sqlite:///{tmp_path / 'api.db'}"
    ctx = context_for(url)
    ctx.settings = load_settings(database={"url": url},
                                 api={"max_event_streams_per_token": PER_TOKEN, "max_event_streams": TOTAL})
    tokens = make_tokens(ctx)
    app = create_app(ctx)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=sock.getsockname()[1], log_level="warning"))
    uv.install_signal_handlers = lambda: None
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", tokens, app
    ctx.events.close()  # end the streams still open, so that uvicorn can stop
    uv.should_exit = True
    thread.join(10)
    sock.close()


@contextmanager
def stream(base: str, token: str, **params):
    """One event stream on its own connection, open (its first line read) until the block ends; closing
    it closes the connection, as a browser tab does. Yields the response (status 200 or not)."""
    params = {"heartbeat_s": 300, **params}  # no heartbeat during a test: only the close can free a slot
    with httpx.Client(base_url=base, timeout=DEADLINE_S) as client, client.stream(
            "GET", "/api/v1/events", params=params, headers={"Authorization": f"Bearer {token}"}) as r:
        if r.status_code == 200:
            r.chunks = r.iter_text()  # type: ignore[attr-defined]
            assert next(r.chunks).startswith(": connected")
        else:
            r.read()
        yield r


def open_streams(stack: ExitStack, base: str, token: str, n: int) -> list[httpx.Response]:
    out = [stack.enter_context(stream(base, token)) for _ in range(n)]
    assert [r.status_code for r in out] == [200] * n
    return out


def refused(base: str, token: str) -> httpx.Response:
    with stream(base, token) as r:
        return r


def test_a_token_over_its_cap_is_refused_with_429_naming_the_setting(server):
    base, tokens, _ = server
    with ExitStack() as stack:
        open_streams(stack, base, tokens["viewer"], PER_TOKEN)
        r = refused(base, tokens["viewer"])
        assert r.status_code == 429, r.text
        body = r.json()
        assert body["setting"] == "api.max_event_streams_per_token" and body["limit"] == PER_TOKEN
        assert f"already has {PER_TOKEN} event streams open" in body["detail"]
        assert "api.max_event_streams_per_token" in body["detail"]
        assert r.headers["retry-after"].isdigit() and int(r.headers["retry-after"]) > 0
        assert r.headers["content-type"] == "application/json"
        # another token is not held back by this one's streams
        assert stack.enter_context(stream(base, tokens["service"])).status_code == 200


def test_the_server_cap_counts_every_token(server):
    base, tokens, _ = server
    with ExitStack() as stack:
        open_streams(stack, base, tokens["viewer"], PER_TOKEN)
        open_streams(stack, base, tokens["service"], TOTAL - PER_TOKEN)
        r = refused(base, tokens["engineer"])  # its first stream, but the server is full
        assert r.status_code == 429, r.text
        assert r.json()["setting"] == "api.max_event_streams" and r.json()["limit"] == TOTAL
        assert f"already has {TOTAL} event streams open" in r.json()["detail"]
        assert "retry-after" in r.headers


def _opens_within_deadline(base: str, token: str, stack: ExitStack) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        r = stack.enter_context(stream(base, token))
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def test_a_stream_whose_client_left_frees_its_slot(server):
    """Open the cap, close one (the client goes, mid-stream, long before any heartbeat): one more opens,
    and the one after it is refused again (the slot was freed once, not lost or doubled)."""
    base, tokens, app = server
    with ExitStack() as stack:
        first = ExitStack()
        first.enter_context(stream(base, tokens["viewer"]))
        open_streams(stack, base, tokens["viewer"], PER_TOKEN - 1)
        assert refused(base, tokens["viewer"]).status_code == 429
        first.close()  # the tab is closed
        again = _opens_within_deadline(base, tokens["viewer"], stack)
        assert again.status_code == 200, again.text
        assert refused(base, tokens["viewer"]).status_code == 429
    deadline = time.monotonic() + DEADLINE_S  # and every slot comes back once all have gone
    while app.state.event_streams.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.event_streams.open == 0


def test_a_stream_that_ends_on_its_own_frees_its_slot(server):
    base, tokens, app = server
    for params in ({"timeout_s": 0.2}, {"max_events": 1}):
        with ExitStack() as stack:
            ending = [stack.enter_context(stream(base, tokens["viewer"], **params)) for _ in range(PER_TOKEN)]
            assert [r.status_code for r in ending] == [200] * PER_TOKEN
            if "max_events" in params:
                app.state.context.events.publish("alert", {"id": 1})
            for r in ending:
                for _ in r.chunks:  # to its end: the server closed it
                    pass
            r = _opens_within_deadline(base, tokens["viewer"], stack)
            assert r.status_code == 200, (params, r.text)


def test_refusals_are_counted_in_the_metrics(server):
    base, tokens, _ = server
    with ExitStack() as stack:
        open_streams(stack, base, tokens["viewer"], PER_TOKEN)
        assert refused(base, tokens["viewer"]).status_code == 429
        assert refused(base, tokens["viewer"]).status_code == 429
        text = httpx.get(f"{base}/metrics", timeout=DEADLINE_S).text
    assert 'foreshock_sse_refused_total{limit="per_token"} 2' in text
    assert 'foreshock_sse_refused_total{limit="total"} 0' in text


def test_the_defaults_and_bad_values_of_the_settings():
    api = load_settings().api
    assert (api.max_event_streams_per_token, api.max_event_streams) == (8, 200)
    for key in ("max_event_streams_per_token", "max_event_streams"):
        for bad, says in ((0, "greater than 0"), (True, "whole number of streams"), ("many", "valid integer")):
            with pytest.raises(SettingsError) as err:
                load_settings(api={key: bad})
            assert f"api.{key}" in str(err.value) and says in str(err.value), str(err.value)


def test_a_stream_whose_client_left_before_its_first_byte_still_frees_its_slot():
    """A server that reports a gone client by failing the send (ASGI spec 2.4) ends the response before its
    generator starts, so the generator's ``finally`` never runs: the response frees the slot itself."""
    import asyncio

    from starlette.requests import ClientDisconnect

    from api.routes.events import _EventStream

    started, closed = [], []

    async def body():
        started.append(1)
        yield ": connected\n\n"

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        raise OSError("the client is gone")

    response = _EventStream(body(), on_close=lambda: closed.append(1), media_type="text/event-stream")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}
    with pytest.raises((OSError, ClientDisconnect)):
        asyncio.run(response(scope, receive, send))
    assert started == [] and closed == [1]
