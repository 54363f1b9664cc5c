"""The ticket board on a database with a long history: every open ticket stays on the board however
many closed ones came after it, and closure feedback names the failure mode found on site.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _close_many(ctx, n: int) -> None:
    """``n`` tickets opened after the scenario's open one and closed since (years of history)."""
    from alerts.tickets import move, open_ticket

    now = ctx.alerts.clock()
    with ctx.session_factory.begin() as s:
        for i in range(n):
            t = open_ticket(s, ctx.alerts.config, now=now + 1 + i, failure_mode="imbalance", grade="major",
                            device_id="P-0002", title="old")
            move(s, t, "closed", actor="history", now=now + 2 + i)


def test_an_old_open_ticket_stays_on_the_board_behind_many_closed_ones(page, served):
    base, tokens, world, ctx = served
    _close_many(ctx, 520)  # more than the 500 the board used to load in all
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets")
    card = page.locator(f"[data-column='received'] [data-ticket='{world.ticket}']")
    card.wait_for(timeout=15_000)
    expect(page.locator("[data-column='closed'] h3")).to_have_text("closed (newest 50 of 520)")
    assert page.locator("[data-column='closed'] .ticket").count() == 50
    assert page.locator("#board-truncated").count() == 0

    # closure feedback with the failure mode found on site, in the detectors' names
    card.locator("a.num").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_contain_text(world.ticket)
    page.fill("#feedback-form input[name=actual]", "Inner race")
    page.click("#feedback-form button")
    expect(detail).to_contain_text("feedback confirmed (found: inner_race)")
    page.fill("#feedback-form input[name=actual]", "inner raec")
    page.click("#feedback-form button")
    expect(page.locator(".error").first).to_contain_text("unknown actual failure mode 'inner raec'")
    assert ctx.alerts.get_ticket(world.ticket)["feedback"]["actual_failure_mode"] == "inner_race"
    assert [e for e in page.js_errors if "422" not in e] == [], page.js_errors


def test_the_detail_shows_the_clocks_breaches_escalation_and_links(page, served):
    from sqlalchemy import select

    from alerts.models import Ticket
    from alerts.tickets import link

    base, tokens, world, ctx = served
    now = ctx.alerts.clock()
    assert [c.ticket for c in ctx.alerts.tick(now + 3 * 3600)] == [world.ticket]  # critical: 2 h to respond
    with ctx.session_factory.begin() as s:
        mine = s.scalars(select(Ticket).where(Ticket.number == world.ticket)).one()
        old = s.scalars(select(Ticket).where(Ticket.number != world.ticket).order_by(Ticket.id)).first()
        assert old is not None, "the previous test leaves closed tickets"
        link(s, mine, old, "previous")
        old_number = old.number
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    sla = page.locator("#ticket-detail #sla")
    expect(sla).to_contain_text("response SLA breached")
    expect(sla).to_contain_text("escalation level 1")
    assert "respond by " in sla.inner_text() and " UTC" in sla.inner_text()
    expect(page.locator("#ticket-detail #links")).to_contain_text(f"{old_number} (previous)")
    page.click(f"#ticket-detail #links a:text('{old_number}')")
    expect(page.locator("#ticket-detail h2")).to_contain_text(old_number)
    assert page.js_errors == [], page.js_errors
