"""Closing a ticket from the board asks first: closing ends the quality loop (verify → close), and it was one
click on the card's "→ closed", beside the button that moves it on a step. It now asks in place, as the unit
page's relearn does (a second step with a confirm button and Cancel), and says when the ticket was not verified.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _open(ctx, status: str = "received") -> str:
    """A new ticket of unit P-0002 in ``status``; its number."""
    from alerts.tickets import move, open_ticket

    now = ctx.alerts.clock()
    with ctx.session_factory.begin() as s:
        t = open_ticket(s, ctx.alerts.config, now=now, failure_mode="imbalance", grade="major", device_id="P-0002",
                        title="confirm test")
        path = {"received": [], "verifying": ["triaged", "investigating", "action_taken", "verifying"]}[status]
        for i, to in enumerate(path):
            move(s, t, to, actor="test", now=now + 1 + i)
        return t.number


def _is_open(ctx, number: str) -> bool:
    return ctx.alerts.get_ticket(number)["is_open"]


def test_closing_from_a_card_asks_first_and_cancel_leaves_it_open(page, served):
    base, tokens, _, ctx = served
    number = _open(ctx)
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets")
    card = page.locator(f"#board [data-ticket='{number}']")
    card.locator("button[data-to='closed']").click()
    question = card.locator(".close-question")
    expect(question).to_contain_text(f"Close {number}? Closing ends its quality loop")
    expect(question).to_contain_text("it has not been verified (the monthly report counts it as closed unverified)")
    assert _is_open(ctx, number), "closed on the first click"
    expect(card.locator("button.confirm-close")).to_be_focused()

    card.locator("button.cancel-close").click()
    expect(card.locator(".close-question")).to_have_count(0)
    expect(card.locator("button[data-to='closed']")).to_have_text("→ closed…")
    assert _is_open(ctx, number)
    assert page.locator(f"[data-column='received'] [data-ticket='{number}']").count() == 1

    # asked again, the question stays through a live redraw of the board (a colleague's change), then closes
    card.locator("button[data-to='closed']").click()
    expect(question).to_be_visible()
    ctx.events.publish("ticket", {"kind": "ticket_commented", "ticket": "PF000000000", "status": "received"})
    page.wait_for_timeout(1500)  # the board is redrawn 0.5 s after the event
    expect(question).to_be_visible()
    assert _is_open(ctx, number)
    card.locator("button.confirm-close").click()
    expect(page.locator(f"[data-column='closed'] [data-ticket='{number}']")).to_have_count(1)
    assert not _is_open(ctx, number)
    assert page.js_errors == [], page.js_errors


def test_closing_a_verified_ticket_from_its_panel_asks_too(page, served):
    base, tokens, _, ctx = served
    number = _open(ctx, "verifying")
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{number}")
    moves = page.locator("#ticket-detail #detail-moves")
    moves.locator("button[data-to='closed']").click()
    expect(moves.locator(".close-question")).to_have_text(f"Close {number}? Closing ends its quality loop.")
    # its card asks the same question: either answers it
    expect(page.locator(f"#board [data-ticket='{number}'] .close-question")).to_be_visible()
    assert _is_open(ctx, number)
    moves.locator("button.confirm-close").click()
    expect(page.locator("#ticket-detail")).to_contain_text("status closed")
    expect(page.locator(f"[data-column='closed'] [data-ticket='{number}']")).to_have_count(1)
    assert not _is_open(ctx, number)
    expect(page.locator("#audit")).to_contain_text("t-service: moved → closed")
    assert page.js_errors == [], page.js_errors
