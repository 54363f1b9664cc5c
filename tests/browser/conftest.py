"""Browser fixtures: the API and dashboard served by uvicorn on a free port over a seeded fleet, and
Debian's headless Chromium driven by Playwright (never a downloaded browser).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FORESHOCK_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("FORESHOCK_SCREENSHOTS", "/tmp/foreshock-screenshots"))
# How long a page and an expectation wait for what they look for (it returns as soon as it is there):
# generous, as the whole suite runs on two loaded cores. Tests give no shorter timeout of their own.
WAIT_MS = 30_000


def _listening_socket() -> socket.socket:
    """A socket bound to a free port, handed to uvicorn: a port chosen free and bound by uvicorn a moment
    later could be taken meanwhile by another process (uvicorn then exits and the tests wait in vain)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base_url, tokens, scenario, context) of a running server over a seeded SQLite database."""
    import uvicorn

    from api.app import create_app
    from api.testing import context_for
    from tests.api.conftest import _with_services, make_tokens
    from tests.api.scenario import seed

    tmp = tmp_path_factory.mktemp("browser")
    ctx = _with_services(context_for(f"sqlite:///{tmp / 'foreshock.db'}"), tmp)
    scenario = seed(ctx)
    tokens = make_tokens(ctx)
    sock = _listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # generous: the whole suite may share two cores
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", tokens, scenario, ctx
    server.should_exit = True
    thread.join(10)
    sock.close()
    ctx.store.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium (make test does this)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install playwright (no browser download is needed)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}


@contextmanager
def opened_page(browser, viewport: dict | None = None, **context_options):
    """A page in a fresh browser context (its own storage, ``timezone_id`` etc.), whose script errors
    and console errors are collected in ``page.js_errors``; the context is closed afterwards."""
    context = browser.new_context(viewport=viewport or DESKTOP, **context_options)
    try:
        p = context.new_page()
        p.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        p.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        p.js_errors = errors  # type: ignore[attr-defined]
        yield p
    finally:
        context.close()


@pytest.fixture
def page(browser):
    with opened_page(browser) as p:
        yield p


def expect(locator):
    """Playwright's ``expect`` (imported late so that collecting the tests does not need Playwright)."""
    from playwright.sync_api import expect as _expect

    _expect.set_options(timeout=WAIT_MS)
    return _expect(locator)


def shot(page, name: str, full_page: bool = True) -> Path:
    """A PNG of the page in SHOTS. ``full_page=False``: the screen only, as a touch screen shows it (Chromium
    takes a full page at another size, and loses the touch emulation: pointer:coarse styles are not in it)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
