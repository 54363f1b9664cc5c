"""Writing on a ticket from its detail panel: the 8D form offers the first discipline not yet filled
in, refuses blank content, and the history shows what a discipline written over used to say.

The form preselected D2, which Foreshock fills in with the problem description when it opens a
ticket: "Save 8D" with a few spaces replaced that description with blanks, and the history said only
"8d_updated", not which discipline or what it had said.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_the_8d_form_keeps_the_problem_description_and_the_history_shows_what_was_replaced(page, served):
    base, tokens, world, ctx = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    d2 = ctx.alerts.get_ticket(world.ticket)["eight_d"]["D2"]
    assert isinstance(d2, dict) and d2["unit"] == world.failing  # Foreshock's problem description

    form = page.locator("#eightd-form")
    expect(form.locator("select[name=d]")).to_have_value("D3")  # the first discipline not filled in
    assert "D2 problem description (filled in)" in form.locator("select[name=d]").inner_text()
    page.select_option("#eightd-form select[name=d]", "D2")
    expect(page.locator("#eightd-replaces")).to_have_text("replaces what D2 says now (the history keeps it)")
    page.fill("#eightd-form input[name=content]", "   ")
    page.click("#eightd-form button")
    expect(page.locator(".error").first).to_contain_text("8D D2: the content is empty")
    assert ctx.alerts.get_ticket(world.ticket)["eight_d"]["D2"] == d2  # nothing was written

    # D3 is offered first; writing it fills it in, and D4 is offered next
    page.select_option("#eightd-form select[name=d]", "D3")
    page.fill("#eightd-form input[name=content]", "  unit switched to standby pump  ")
    page.click("#eightd-form button")
    expect(page.locator("#eight-d li[data-d='D3']")).to_have_text("D3: unit switched to standby pump")
    expect(page.locator("#eightd-form select[name=d]")).to_have_value("D4")

    # writing over D2 on purpose: the history names the discipline and keeps what it said, as fields
    page.select_option("#eightd-form select[name=d]", "D2")
    page.fill("#eightd-form input[name=content]", "pump P-0001 loud since Monday")
    page.click("#eightd-form button")
    expect(page.locator("#eight-d li[data-d='D2']")).to_have_text("D2: pump P-0001 loud since Monday")
    line = page.locator("#audit li").filter(has_text="8D updated D2")
    expect(line).to_have_count(1)
    line.locator("summary").click()
    expect(line.locator("summary")).to_have_text("what D2 said before")
    expect(line.locator("[data-group='Where'] tr[data-field='unit'] td")).to_have_text(world.failing)
    expect(page.locator("#audit li").filter(has_text="8D updated D3")).to_have_count(1)
    assert "{" not in page.locator("#audit").inner_text()  # never raw JSON
    assert page.js_errors == [], page.js_errors


def test_a_live_update_keeps_what_is_being_typed(page, served):
    """The open ticket is redrawn on every live event (any ticket's, anyone's): a half-written comment
    and 8D text were emptied when a colleague assigned a ticket."""
    import httpx

    base, tokens, world, _ = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    expect(page.locator("#live")).to_have_text("● live")
    page.select_option("#eightd-form select[name=d]", "D5")
    page.fill("#eightd-form input[name=content]", "replace the bearing and")
    page.fill("#comment-form input[name=text]", "called the site, they")
    page.locator("#comment-form input[name=text]").press("End")

    r = httpx.post(f"{base}/api/v1/tickets/{world.ticket}/assign", json={"assignee": "colleague"},
                   headers={"Authorization": f"Bearer {tokens['engineer']}"})
    assert r.status_code == 200, r.text
    expect(page.locator("#ticket-detail")).to_contain_text("assignee colleague")  # redrawn from the event
    expect(page.locator("#comment-form input[name=text]")).to_have_value("called the site, they")
    expect(page.locator("#comment-form input[name=text]")).to_be_focused()
    expect(page.locator("#eightd-form select[name=d]")).to_have_value("D5")
    expect(page.locator("#eightd-form input[name=content]")).to_have_value("replace the bearing and")
    page.keyboard.type(" will send photos")  # the cursor is where it was
    page.click("#comment-form button")
    expect(page.locator("#comments li").last).to_contain_text("called the site, they will send photos")
    expect(page.locator("#comment-form input[name=text]")).to_have_value("")  # sent: the field empties
    expect(page.locator("#eightd-form input[name=content]")).to_have_value("replace the bearing and")
    assert page.js_errors == [], page.js_errors


def test_the_iso_zone_reads_as_its_letter_and_a_health_time_as_a_time(page, served):
    """The detectors count ISO 20816 zones 0..3: D2 said "ISO 20816 zone 0" for zone A (the unit's
    chart labels them A-D), and a complaint's health record showed its time as 1791000000."""
    from alerts.tickets import open_ticket

    base, tokens, _, ctx = served
    with ctx.session_factory.begin() as s:
        t = open_ticket(s, ctx.alerts.config, now=ctx.alerts.clock(), failure_mode="imbalance", grade="major",
                        device_id="P-0002", unit={"model": "P-200"}, title="zones",
                        d2={"unit": "P-0002", "iso_zone": 2.0, "features": {"iso_zone": 0.0, "kurtosis": 3.2},
                            "telemetry_evidence": {"health": {"state": "healthy", "ts": 1791000000.0}}})
        number = t.number
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/tickets#{number}")
    d2 = page.locator("#eight-d li[data-d='D2']")
    expect(d2.locator("[data-group='How much'] > table > tbody > tr[data-field='iso_zone'] td")).to_have_text("C")
    expect(d2.locator("tr[data-field='features'] tr[data-field='iso_zone'] td")).to_have_text("A")
    expect(d2.locator("tr[data-field='features'] tr[data-field='kurtosis'] td")).to_have_text("3.2")
    expect(d2.locator("tr[data-field='health'] tr[data-field='ts'] td")).to_have_text("2026-10-03 04:00 UTC")
    assert page.js_errors == [], page.js_errors
