"""The ticket board on a database with a long history: every open ticket stays on the board however
many closed ones came after it, and closure feedback names the failure mode found on site.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect, shot
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
    card.wait_for()
    expect(page.locator("[data-column='closed'] h3")).to_have_text("closed (newest 50 of 520)")
    assert page.locator("[data-column='closed'] .ticket").count() == 50
    assert page.locator("#board-truncated").count() == 0

    # closure feedback with the failure mode found on site, in the detectors' names
    card.locator("a.num").click()
    detail = page.locator("#ticket-detail")
    expect(detail).to_contain_text(world.ticket)
    # (a choice among them, in words: nothing to misspell; anything else is described as "other")
    page.select_option("#feedback-form select[name=finding]", "different_fault")
    modes = page.locator("#feedback-form select[name=mode] option").all_text_contents()
    assert modes == ["inner race", "ball", "cage", "bearing", "imbalance", "misalignment", "looseness", "lubrication",
                     "another (describe it)"], modes
    page.select_option("#feedback-form select[name=mode]", "inner_race")
    page.click("#feedback-form button")
    expect(detail).to_contain_text("feedback: a different fault: inner race")
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


def test_the_8d_problem_description_reads_as_fields_and_text_stays_text(page, served):
    """D2 was one line of raw JSON cut at 300 characters; now it is labelled fields by what, where,
    when and how much, and nothing a customer or a colleague wrote is read as HTML."""
    from alerts.tickets import open_ticket, set_8d

    base, tokens, world, ctx = served
    evil = '<img src=x onerror="window.pwned=1">'
    now = ctx.alerts.clock()
    with ctx.session_factory.begin() as s:
        t = open_ticket(s, ctx.alerts.config, now=now, failure_mode="customer_reported", grade="major",
                        device_id="P-0003", unit={"model": "P-200", "customer": "Globex", "site": "Lyon"},
                        d2={"unit": "P-0003", "customer": "Globex", "complaint": f"It grinds {evil}",
                            "occurred_at": "2026-11-20T08:00:00+00:00", "reported_by": "customer",
                            "telemetry_evidence": {"alerts": [], "features": [
                                {"ts": "2026-11-20T07:00:00+00:00", "rms_g": 0.123456}] * 8},
                            f"remark {evil}": {"by": evil}}, title="Customer complaint")
        set_8d(s, t, "D3", {"containment": evil, "units": ["P-0003", "P-0004"]}, actor="ana", now=now)
        complaint_ticket = t.number
    login(page, base, tokens["viewer"])

    # Foreshock's own D2: the assessment that opened the ticket
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    d2 = page.locator("#eight-d li[data-d='D2']")
    expect(d2).to_contain_text("D2 (problem description)")
    assert d2.locator("[data-group]").evaluate_all("gs => gs.map((g) => g.dataset.group)") == [
        "What", "Where", "When", "How much"]
    what = d2.locator("[data-group='What']")
    assert what.locator("tr[data-field='failure_mode'] td").inner_text() == "outer race"
    assert what.locator("tr[data-field='confidence'] td").inner_text() == "90 %"
    assert "BPFO and harmonics" in what.locator("tr[data-field='reasons'] td").inner_text()
    where = d2.locator("[data-group='Where']")
    assert where.locator("tr[data-field='unit'] td").inner_text() == world.failing
    assert where.locator("tr[data-field='customer'] td").inner_text() == "ACME"
    assert " UTC – " in d2.locator("[data-group='When'] tr[data-field='window'] td").inner_text()
    much = d2.locator("[data-group='How much']")
    assert much.locator("tr[data-field='time_left_s'] td").inner_text() == "5d 0h (3d 0h – 9d 0h)"
    assert much.locator("tr[data-field='features'] tr[data-field='kurtosis'] td").inner_text() == "9"
    assert "88.6" in much.locator("tr[data-field='spectral_peaks'] table").inner_text()
    assert "{" not in d2.inner_text() and '"' not in d2.inner_text()  # no JSON left
    shot(page, "ticket-8d-d2")

    # a complaint's D2 and a JSON D3: what people wrote is shown as they wrote it, never run
    page.goto(f"{base}/ui/tickets#{complaint_ticket}")  # a new hash alone (no reload) opens that ticket
    expect(page.locator("#ticket-detail")).to_contain_text(complaint_ticket)
    d2 = page.locator("#eight-d li[data-d='D2']")
    expect(d2.locator("tr[data-field='complaint'] td")).to_have_text(f"It grinds {evil}")
    assert d2.locator("tr[data-field='occurred_at'] td").inner_text() == "2026-11-20 08:00 UTC"
    other = d2.locator("[data-group='Other']")
    assert other.locator("th").first.text_content() == f"remark {evil}"  # the label is text, too
    evidence = d2.locator("tr[data-field='telemetry_evidence']")
    assert evidence.locator("summary").inner_text() == "8 entries"  # hourly telemetry is folded
    assert evidence.locator("tr[data-field='alerts'] > td").inner_text() == "–"
    d3 = page.locator("#eight-d li[data-d='D3']")
    expect(d3).to_contain_text("D3 (containment)")
    assert d3.locator("tr[data-field='containment'] td").inner_text() == evil
    assert d3.locator("tr[data-field='units'] td").inner_text() == "P-0003, P-0004"
    assert page.locator("#eight-d img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.js_errors == [], page.js_errors
