"""Keyboard use: the live mark's pause ("○ paused: too many open tabs · retry in 33 s") shows the server's
reason on a tap or a click, and a keyboard could not reach it (a plain text span): now, while there is a
reason to show, it is a button that Tab reaches and Enter or Space opens and closes."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

WHY = "this token already has 8 event streams open, the limit set by api.max_event_streams_per_token"


def test_the_live_marks_reason_opens_from_the_keyboard(page, served):
    base, tokens, _, _ = served
    page.route("**/api/v1/events?*", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "300", "Content-Type": "application/json"},
        body=json.dumps({"detail": WHY, "limit": 8, "setting": "api.max_event_streams_per_token"})))
    login(page, base, tokens["viewer"])
    mark = page.get_by_role("button", name=re.compile("paused: too many open tabs"))
    expect(mark).to_be_visible()
    page.locator("#logout").focus()
    page.keyboard.press("Shift+Tab")
    expect(mark).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#live-why")).to_have_text(WHY)
    expect(mark).to_have_attribute("aria-expanded", "true")
    page.keyboard.press(" ")
    expect(page.locator("#live-why")).to_have_count(0)
    expect(mark).to_have_attribute("aria-expanded", "false")
    assert all("429" in e for e in page.js_errors), page.js_errors
