"""The dashboard, refused a live stream as one too many (429), says so in its header and waits at least the
``Retry-After`` the server gives before it asks again: it said "reconnecting" and asked again after 1 s."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import httpx
import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_tab_over_the_token_cap_says_it_is_paused(page, served):
    base, tokens, _, ctx = served
    cap = ctx.settings.api.max_event_streams_per_token
    held = []  # the open streams' readers: a reader dropped closes its connection
    with ExitStack() as stack:  # the token's other tabs: as many streams as it may hold
        for _ in range(cap):
            client = stack.enter_context(httpx.Client(base_url=base, timeout=30))
            r = stack.enter_context(client.stream("GET", "/api/v1/events", params={"heartbeat_s": 300},
                                                  headers={"Authorization": f"Bearer {tokens['viewer']}"}))
            assert r.status_code == 200
            held.append(r.iter_text())
            assert next(held[-1]).startswith(": connected")
        login(page, base, tokens["viewer"])
        mark = page.locator("#live")
        expect(mark).to_contain_text("paused: too many open tabs · retry in ")
        assert "api.max_event_streams_per_token" in mark.get_attribute("title")
        expect(page.locator("#units tr")).to_have_count(3)  # the page itself still works
    assert page.js_errors == [] or all("429" in e for e in page.js_errors), page.js_errors


def test_a_refused_stream_is_asked_for_again_only_after_retry_after(page, served):
    base, tokens, _, _ = served
    asked: list[float] = []

    def busy_twice(route) -> None:
        asked.append(time.monotonic())
        if len(asked) <= 2:
            route.fulfill(status=429, headers={"Retry-After": "2", "Content-Type": "application/json"},
                          body=json.dumps({"detail": "the server already has 200 event streams open, the limit set "
                                                     "by api.max_event_streams: try again later or raise the setting",
                                           "limit": 200, "setting": "api.max_event_streams"}))
        else:
            route.continue_()

    page.route("**/api/v1/events?*", busy_twice)
    login(page, base, tokens["service"])
    expect(page.locator("#live")).to_contain_text("paused: server busy · retry in ")
    expect(page.locator("#live")).to_have_text("● live")
    assert len(asked) == 3, asked
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    assert all(g >= 2.0 for g in gaps), f"asked again before Retry-After (2 s): {gaps}"
