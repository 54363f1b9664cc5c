"""A service engineer, from the browser alone: log in, find the failing unit, see why and how long is
left, acknowledge its alert and drive its ticket to closure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import expect, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def login(page, base: str, token: str) -> None:
    page.goto(f"{base}/ui/login")
    page.fill("#token", token)
    page.click("#login-button")
    page.wait_for_url(f"{base}/ui/")


def test_login_rejects_a_bad_token(page, served):
    base, _, _, _ = served
    page.goto(f"{base}/ui/login")
    page.fill("#token", "fs_00000000_" + "x" * 43)
    page.click("#login-button")
    error = page.locator("#login-error .error")
    error.wait_for()
    assert "invalid or revoked token" in error.inner_text()
    page.goto(f"{base}/ui/")  # no token: back to the login page
    page.wait_for_url(f"{base}/ui/login")


def test_service_engineer_finds_failing_unit_and_closes_its_ticket(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["service"])

    # Fleet overview: the failing unit is first (closest to failure) and in alarm.
    first = page.locator("#units tr").first
    first.wait_for()
    assert first.get_attribute("data-unit") == world.failing
    assert "alarm" in first.inner_text().lower() and "outer race" in first.inner_text()
    assert page.locator('#summary [data-state="alarm"] .n').inner_text() == "1"
    shot(page, "fleet")

    # Filter by customer.
    page.fill("#f-customer", "Globex")
    expect(page.locator("#units tr")).to_have_count(1)
    assert page.locator("#units tr").first.get_attribute("data-unit") == world.watch
    page.fill("#f-customer", "")
    expect(page.locator("#units tr")).to_have_count(3)

    # Unit page: why, how long, spectra with markers, trends, tickets.
    page.click(f'#units tr[data-unit="{world.failing}"] a')
    page.wait_for_url(f"**/ui/unit?id={world.failing}")
    page.locator("#ttf").wait_for()
    # 5 days (3-9) left on data of a minute before the scenario was seeded, counted down from then
    assert page.locator("#ttf").inner_text() == "4d 23h"
    assert page.locator("#ttf-range").inner_text() == "likely between 2d 23h and 8d 23h"
    assert "BPFO" in page.locator("#reasons").inner_text()
    page.locator("#chart-envelope canvas").first.wait_for()
    page.locator("#chart-velocity canvas").first.wait_for()
    assert "shaft 24.67 Hz" in page.locator("#spectrum-info").inner_text()
    expect(page.locator(f'#unit-tickets tr[data-ticket="{world.ticket}"]')).to_have_count(1)  # loads after the spectrum
    page.select_option("#range", "30d")
    page.locator("#chart-velocity canvas").first.wait_for()
    shot(page, "unit")

    # Alert inbox: acknowledge.
    page.click("header nav >> text=Alerts")
    row = page.locator(f'#alerts tr[data-unit="{world.failing}"]')
    row.wait_for()
    row.locator("button.ack").click()
    expect(row.locator(".acked")).to_contain_text("t-service")
    shot(page, "alerts")

    # Ticket board: the SLA clock counts down; move the ticket to closure step by step.
    page.click("header nav >> text=Tickets")
    card = page.locator(f"#board [data-ticket='{world.ticket}']")
    card.wait_for()
    clock = card.locator(".clock").inner_text()
    assert clock.startswith("resolve in"), clock  # the acknowledgement answered the response clock
    shot(page, "tickets")

    # Ticket detail: assign, write 8D D4, record the closure feedback.
    card.locator("a.num").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_contain_text(world.ticket)
    expect(detail).to_contain_text("Time left when opened: 5d 0h")
    page.fill("#assign-form input[name=assignee]", "maria")
    page.click("#assign-form button")
    expect(detail).to_contain_text("assignee maria")
    page.select_option("#eightd-form select[name=d]", "D4")
    page.fill("#eightd-form input[name=content]", "contaminated grease")
    page.click("#eightd-form button")
    expect(page.locator("#eight-d")).to_contain_text("D4: contaminated grease")
    page.fill("#feedback-form input[name=cause]", "seal failure")
    page.click("#feedback-form button")
    expect(detail).to_contain_text("feedback: fault as warned (outer race)")
    shot(page, "ticket-detail")
    for to in ("triaged", "investigating", "action_taken", "verifying", "closed"):
        page.locator(f"#board [data-ticket='{world.ticket}'] button[data-to='{to}']").click()
        if to == "closed":  # closing asks first (test_ticket_close_confirm.py)
            page.locator(f"#board [data-ticket='{world.ticket}'] button.confirm-close").click()
        page.wait_for_selector(f"[data-column='{to}'] [data-ticket='{world.ticket}']")
    assert page.locator(f"[data-column='closed'] [data-ticket='{world.ticket}'] .clock").inner_text() == "closed"
    expect(page.locator("#audit")).to_contain_text("t-service: moved → closed")
    shot(page, "tickets-closed")
    assert page.js_errors == [], page.js_errors


def test_reports_page_shows_pareto_and_top5(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["viewer"])
    page.click("header nav >> text=Reports")
    page.locator("#pareto canvas").first.wait_for()
    first = page.locator("#top5 tr").first
    assert world.failing in first.inner_text()
    shot(page, "reports")
    assert page.js_errors == [], page.js_errors


def test_reports_page_shows_the_monthly_report_and_its_csv(page, served):
    # the monthly report (SLA compliance, MTTA/MTTR, field precision) was only in the API and the CLI
    import time

    base, tokens, _world, ctx = served
    before = time.strftime("%Y-%m", time.gmtime())
    from alerts.reports import monthly_report

    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/reports")
    page.locator("#monthly-sla tr[data-sla='all']").wait_for()
    # the page opens on the UTC month it is now: the month may turn between the test's clock and the page's
    month = page.input_value("#month")
    assert month in (before, time.strftime("%Y-%m", time.gmtime())), month
    want = monthly_report(ctx.session_factory, month)
    expect(page.locator("#monthly-period")).to_contain_text(f"{month}-01 00:00 +00:00 to ")
    expect(page.locator("#monthly-period")).to_contain_text("(UTC)")
    assert f"{want['tickets']['opened']}\ntickets opened" in page.locator("#monthly .cards").inner_text()
    row = page.locator("#monthly-sla tr[data-sla='all'] td")
    assert row.nth(1).inner_text() == str(want["sla"]["all"]["tickets"])
    with page.expect_download() as dl:
        page.click("#monthly-csv")
    assert dl.value.suggested_filename == f"foreshock-report-{month}.csv"
    text = Path(dl.value.path()).read_text()
    assert text.startswith("section,key,metric,value") and f"tickets,opened,count,{want['tickets']['opened']}" in text
    page.fill("#month", "2020-01")  # a month without tickets
    page.locator("#month").dispatch_event("change")
    expect(page.locator("#monthly-period")).to_contain_text("2020-01-01 00:00 +00:00 to 2020-02-01 00:00 +00:00 (UTC)")
    assert "0\ntickets opened" in page.locator("#monthly .cards").inner_text()
    shot(page, "reports-monthly")
    # a cleared month: the API's "query.month: Field required" and the last month's report standing
    page.fill("#month", "")
    page.locator("#month").dispatch_event("change")
    expect(page.locator("#monthly-period")).to_have_text("Choose a month to see its report.")
    assert page.locator("#monthly .cards").count() == 0
    page.click("#monthly-csv")
    expect(page.locator(".error").first).to_have_text("Month: choose the month whose report to download")
    assert page.js_errors == [], page.js_errors


def test_viewer_sees_no_action_buttons(page, served):
    base, tokens, _world, _ = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/tickets")
    page.locator("#board .ticket").first.wait_for()
    assert page.locator("#board button.move").count() == 0
