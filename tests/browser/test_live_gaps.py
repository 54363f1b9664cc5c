"""A live stream that is lost and opened again (a network blip, a proxy's timeout, a server restart):
what changed meanwhile came as events nobody received, and the page stayed stale (an alert acknowledged
by a colleague still offered "Acknowledge") until some later event. Opened again, the page refreshes.

The gap is made by holding the page's first stream request in the test, changing the data, then ending
that stream at once: the page opens another."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_the_alert_inbox_shows_what_changed_while_its_stream_was_lost(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["service"])
    held = []

    def first_stream(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/events?**", first_stream)
    with page.expect_request("**/api/v1/events?**"):
        page.goto(f"{base}/ui/alerts")
    row = page.locator(f"#alerts tr[data-alert='{world.alert_id}']")
    expect(row.locator(".acked")).to_have_text("no")
    # a colleague acknowledges it while this page has no stream
    httpx.post(f"{base}/api/v1/alerts/{world.alert_id}/ack",
               headers={"Authorization": f"Bearer {tokens['engineer']}"}).raise_for_status()
    held[0].fulfill(status=200, content_type="text/event-stream", body="")  # the stream ends at once
    expect(row.locator(".acked")).to_contain_text("t-engineer, ")
    expect(row.locator("button.ack")).to_have_count(0)
    expect(page.locator("#live")).to_have_text("● live")
    assert page.js_errors == [], page.js_errors
