"""What a service engineer does on a phone (390 x 844, touch) is on the screen where it is done: acknowledging
an alert, verifying a corrective action, moving the ticket that is open; the fleet's units and a chart's
title are not pushed down by what takes more room than it needs.

What was wrong before: the inbox's Acknowledge and an action's Verify were in their table's last column, off
the screen's right edge (a sideways swipe of the table away); a ticket open in its panel was moved only from
its card below the whole panel; the fleet's five health cards took three rows; a chart's title two lines.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect, opened_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WIDTH = PHONE["viewport"]["width"]


@pytest.fixture
def phone(browser, served):
    base, tokens, _, _ = served
    with opened_page(browser, **PHONE) as p:
        p.goto(f"{base}/ui/login")
        p.locator("#token").fill(tokens["engineer"])
        p.locator("#login-button").tap()
        p.wait_for_url(f"{base}/ui/")
        yield p


def _on_screen(locator) -> None:
    """On the screen once the page is scrolled down to it: nothing scrolled sideways (a table's own box would)."""
    locator.evaluate("(e) => scrollTo(0, e.getBoundingClientRect().top + scrollY - 200)")
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    assert 0 <= box["x"] and box["x"] + box["width"] <= WIDTH, f"{locator} is off the screen: {box}"


def test_an_alert_is_acknowledged_without_swiping_the_inbox(phone, served):
    base, _, world, _ = served
    phone.goto(f"{base}/ui/alerts")
    row = phone.locator(f"#alerts tr[data-unit='{world.failing}']")
    button = row.locator("button.ack")
    _on_screen(button)
    # each value under its column's name
    expect(row.locator("td[data-label='Failure mode']")).to_have_text("outer race")
    expect(phone.locator("#alerts").locator("..").locator("thead")).to_be_hidden()
    shot(phone, "phone-alerts-cards", full_page=False)
    button.tap()
    expect(row.locator("td.acked")).to_contain_text("t-engineer")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
    assert phone.js_errors == [], phone.js_errors


def test_a_corrective_action_is_verified_without_swiping_the_table(phone, served):
    base, _, _, _ = served
    phone.goto(f"{base}/ui/corrective")
    phone.locator("#a-title").fill("Batch B7 regrease")
    phone.locator("#a-applied_at").fill("2026-01-01")
    phone.locator("#a-batch").fill("B7")
    phone.locator("#a-submit").tap()
    row = phone.locator("#actions tr").first
    expect(row).to_contain_text("Batch B7 regrease")
    verify = row.locator("button:has-text('Verify')")
    _on_screen(verify)
    verify.tap()
    expect(row.locator(".verdict")).not_to_have_text("not verified")
    assert phone.js_errors == [], phone.js_errors


def test_the_open_ticket_is_moved_from_its_panel(phone, served):
    base, _, world, ctx = served
    phone.goto(f"{base}/ui/tickets#{world.ticket}")
    status = ctx.alerts.get_ticket(world.ticket)["status"]
    moves = phone.locator("#ticket-detail #detail-moves button.move")
    expect(moves.first).to_be_in_viewport()
    to = moves.first.get_attribute("data-to")
    assert to != status
    moves.first.tap()
    expect(phone.locator("#ticket-detail")).to_contain_text(f"status {to.replace('_', ' ')}")
    expect(phone.locator(f".ticket[data-ticket='{world.ticket}']")).to_have_attribute("data-status", to)
    shot(phone, "phone-ticket-moved-from-panel", full_page=False)
    assert ctx.alerts.get_ticket(world.ticket)["status"] == to
    assert phone.js_errors == [], phone.js_errors


def test_the_fleet_summary_takes_one_row(phone, served):
    base, _, _, _ = served
    phone.goto(f"{base}/ui/")
    phone.locator("#units tr").first.wait_for()
    tops = phone.locator("#summary .card").evaluate_all("cs => cs.map((c) => Math.round(c.getBoundingClientRect().top))")
    assert len(tops) == 5 and len(set(tops)) == 1, tops
    _on_screen(phone.locator("#summary .card").last)
    assert phone.js_errors == [], phone.js_errors


def test_a_chart_title_takes_one_line(phone, served):
    base, _, world, _ = served
    phone.goto(f"{base}/ui/unit?id={world.failing}")
    title = phone.locator("#chart-kurtosis .u-title")
    expect(title).to_have_text("Kurtosis (signal and envelope band)")
    line = title.evaluate("(t) => parseFloat(getComputedStyle(t).lineHeight) || 1.5 * parseFloat(getComputedStyle(t).fontSize)")
    assert title.bounding_box()["height"] < 1.5 * line, (title.bounding_box(), line)
    assert phone.js_errors == [], phone.js_errors
