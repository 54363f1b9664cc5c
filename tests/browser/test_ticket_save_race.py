"""Saving on a ticket over a slow link while the panel is redrawn by a live event (the save's own event,
or a colleague's): the panel's forms are drawn anew with what was typed in them, the save's answer then
emptied the old form, no longer on the page, and the comment just saved stayed in the field, its button
enabled, ready to be sent a second time. The form on the page is emptied now, and its button waits for
the answer.

The slow answer is made by holding the save's response in the test until the live redraw has shown it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_comment_saved_during_a_live_redraw_leaves_the_field_empty(page, served):
    base, tokens, world, ctx = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    expect(page.locator("#live")).to_have_text("● live")
    held = []
    page.route("**/api/v1/tickets/*/comments", lambda route: held.append(route))
    text = "bearing ordered, fitter booked for Monday"
    page.fill("#comment-form input[name=text]", text)
    with page.expect_request("**/api/v1/tickets/*/comments"):
        page.click("#comment-form button")
    answer = held[0].fetch()  # the server saves it and tells the live stream; the answer is still on its way
    expect(page.locator("#comments li").last).to_contain_text(f"t-service: {text}")  # the live redraw
    expect(page.locator("#comment-form button")).to_be_disabled()  # still sending: not a second time
    held[0].fulfill(response=answer)
    expect(page.locator("#comment-form input[name=text]")).to_have_value("")
    expect(page.locator("#comment-form button")).to_be_enabled()
    assert [c["text"] for c in ctx.alerts.get_ticket(world.ticket)["comments"]].count(text) == 1
    assert page.js_errors == [], page.js_errors
