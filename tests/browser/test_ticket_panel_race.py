"""The ticket panel is redrawn on every live event. A redraw of the ticket open before, asked just before
the engineer tapped another ticket and answered after it (a slow link), put the first ticket back in the
panel under the second one's address, and the comment typed next went to the wrong ticket. Only the
ticket asked for last is drawn now.

The slow answer is made by holding the first ticket's request in the test until the second is shown."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _second_ticket(base: str, token: str, unit: str) -> str:
    r = httpx.post(f"{base}/api/v1/complaints", headers={"Authorization": f"Bearer {token}"}, json={
        "channel": "phone", "customer": "Globex", "contact": {"phone": "+33 4 55 55 01 00"},
        "device_id": unit,
        "description": "pump vibrates", "request": "advice", "occurred_at": "2026-11-01T08:00:00Z"})
    r.raise_for_status()
    return r.json()["ticket"]


def _comments(ctx, number: str) -> list[str]:
    return [c["text"] for c in ctx.alerts.get_ticket(number)["comments"]]


def test_a_late_redraw_of_the_ticket_open_before_does_not_take_the_panel(page, served):
    base, tokens, world, ctx = served
    first = world.ticket
    second = _second_ticket(base, tokens["service"], world.watch)
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{first}")
    heading = page.locator("#ticket-detail h2")
    expect(heading).to_contain_text(f"{first} · {world.failing}")
    expect(page.locator("#live")).to_have_text("● live")

    held = []
    page.route(f"**/api/v1/tickets/{first}", lambda route: route.continue_() if held else held.append(route))
    # a colleague's comment on the other ticket: the page redraws the board and the open panel (held)
    with page.expect_request(f"**/api/v1/tickets/{first}"):
        httpx.post(f"{base}/api/v1/tickets/{second}/comments", json={"text": "called the customer"},
                   headers={"Authorization": f"Bearer {tokens['engineer']}"}).raise_for_status()
    page.click(f"#{second} a.num")
    expect(heading).to_contain_text(f"{second} · {world.watch}")
    with page.expect_event("requestfinished", lambda r: r.url.endswith(f"/api/v1/tickets/{first}")):
        held[0].continue_()
    page.fill("#comment-form input[name=text]", "asked for a photo of the nameplate")
    page.click("#comment-form button")
    expect(page.locator("#comments li").last).to_contain_text("asked for a photo of the nameplate")
    expect(heading).to_contain_text(f"{second} · {world.watch}")
    assert page.url.endswith(f"#{second}")
    assert "asked for a photo of the nameplate" in _comments(ctx, second)
    assert "asked for a photo of the nameplate" not in _comments(ctx, first)
    assert page.js_errors == [], page.js_errors
