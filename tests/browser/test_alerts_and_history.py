"""The alert inbox says when it lists only the newest alerts, and a ticket's history and comments
carry their times in the dashboard's one format (UTC)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


def _cleared_alerts(ctx, n: int) -> None:
    from alerts.models import Alert

    now = ctx.alerts.clock()
    with ctx.session_factory.begin() as s:
        for i in range(n):
            t = now - 86400 - i * 60
            s.add(Alert(device_id="P-0002", failure_mode="imbalance", severity="watch", grade="minor", status="cleared",
                        is_open=False, raised_at=t, cleared_at=t + 30, last_ts=t, detail={}))


def test_the_inbox_says_when_it_lists_only_the_newest_alerts(page, served):
    base, tokens, _, ctx = served
    _cleared_alerts(ctx, 205)
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/alerts")
    page.locator("#alerts tr").first.wait_for()
    assert page.locator("#alerts-truncated .error").count() == 0  # the open ones: all listed
    page.select_option("#f-status", "cleared")
    expect(page.locator("#alerts-truncated")).to_have_text(re.compile(r"showing the 200 newest of 205 alerts"))
    expect(page.locator("#alerts tr")).to_have_count(200)
    assert page.js_errors == [], page.js_errors


def test_ticket_history_and_comments_show_their_time_in_utc(page, served):
    """History lines showed a raw '2026-11-21T21:21:03+00:00', comments no time at all."""
    base, tokens, world, _ = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    page.fill("#comment-form input[name=text]", "customer called, pump is loud")
    page.click("#comment-form button")
    comment = page.locator("#comments li").last
    expect(comment).to_have_text(re.compile(rf"^{STAMP} t-service: customer called, pump is loud$"))
    expect(page.locator("#audit li").first).to_have_text(re.compile(rf"^{STAMP} foreshock: opened → received$"))
    assert page.js_errors == [], page.js_errors
