"""A service agent registers a customer's complaint from the dashboard form during a call: an
incomplete form is refused naming what is missing; a complete one joins the unit's open ticket and
shows that Foreshock had warned before the customer noticed; the photo sent with it downloads unchanged. An engineer records and verifies a
corrective action on its page. The list pages through every complaint."""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect, shot
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_agent_fills_in_the_complaint_form(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["service"])
    page.click("nav a:has-text('Complaints')")
    page.wait_for_url(f"{base}/ui/complaints")
    page.fill("#c-customer", "ACME")
    page.fill("#c-contact_name", "Ann Lee")
    page.fill("#c-description", "Pump on line 3 grinds and runs hot")
    page.click("#c-submit")  # no serial, no model/site, no email or phone
    error = page.locator("#c-error")
    error.wait_for()
    assert "email address or a phone number" in error.inner_text()
    assert "device_id" in error.inner_text() or "unit serial" in error.inner_text()

    page.fill("#c-contact_phone", "+49 421 555 0100")
    page.fill("#c-device_id", world.failing)
    page.select_option("#c-request", "repair")
    photo = bytes(range(256)) * 4  # every byte value: the file comes back unchanged
    page.set_input_files("#c-files", files=[{"name": "pump.jpg", "mimeType": "image/jpeg", "buffer": photo},
                                            {"name": "note.txt", "mimeType": "text/plain", "buffer": b"bearing hot\n"}])
    page.click("#c-submit")
    page.locator("#c-ok").wait_for()
    assert page.locator("#c-ticket").inner_text() == world.ticket
    assert "joined the open ticket" in page.locator("#c-ok").inner_text()
    assert "Foreshock warned" in page.locator("#c-ok").inner_text()
    # the list first shows its "No complaints yet." row (one row too): wait for the complaint itself
    expect(page.locator("#complaints tr").first).to_contain_text(world.ticket)
    expect(page.locator("#complaints tr")).to_have_count(1)
    link = page.locator("#complaints tr .attachment").first
    expect(page.locator("#complaints tr .attachment")).to_have_text(["pump.jpg (1 KiB)", "note.txt (12 B)"])
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "pump.jpg"
    with open(got.value.path(), "rb") as f:
        assert f.read() == photo
    shot(page, "complaints")

    # the ticket shows the complaint and the communication log; the agent sends a progress update
    page.click("#c-ticket")
    page.locator("#ticket-complaints li").first.wait_for()
    assert "Foreshock warned" in page.locator("#ticket-complaints").inner_text()
    assert page.locator("#ticket-complaints .attachment").first.inner_text() == "pump.jpg (1 KiB)"
    page.select_option("#message-form select[name=kind]", "progress")
    page.fill("#message-form input[name=text]", "A technician comes on Monday.")
    page.click("#message-form button")
    expect(page.locator("#messages li")).to_have_count(2)  # acknowledgement + progress (phone only: recorded)
    assert "progress (recorded)" in page.locator("#messages").inner_text()
    shot(page, "ticket-customer")
    assert [e for e in page.js_errors if "status of 422" not in e] == []  # the refused form is logged, nothing else


def record_and_verify(page, served, title: str, applied_at: str):
    """As an engineer, record a corrective action for batch B7 and verify it; returns its table row."""
    base, tokens, _, _ = served
    login(page, base, tokens["engineer"])
    page.goto(f"{base}/ui/corrective")
    page.fill("#a-title", title)
    page.fill("#a-applied_at", applied_at)
    page.fill("#a-batch", "B7")
    page.click("#a-submit")
    row = page.locator("#actions tr").first
    expect(row).to_contain_text(title)
    row.locator("button:has-text('Verify')").click()
    expect(row.locator(".verdict")).not_to_have_text("not verified")
    return row


def test_engineer_records_and_verifies_a_corrective_action(page, served):
    record_and_verify(page, served, "New bearing supplier", "2026-01-15")
    shot(page, "corrective-actions")
    assert page.js_errors == []


def test_the_complaint_list_pages_through_every_complaint(page, served):
    """The list showed the newest 100 complaints and nothing said there were more."""
    from sqlalchemy import func, select

    from alerts.models import Complaint, Ticket

    base, tokens, world, ctx = served
    now = ctx.alerts.clock()
    with ctx.session_factory.begin() as s:
        ticket_id = s.scalars(select(Ticket.id).where(Ticket.number == world.ticket)).one()
        for i in range(150):  # a year of older complaints
            s.add(Complaint(ticket_id=ticket_id, channel="phone", customer="ACME", device_id=world.failing,
                            description=f"older complaint {i}", occurred_at=now - 86400 * (i + 2),
                            request="advice", received_at=now - 86400 * (i + 1), joined=True))
    with ctx.session_factory() as s:
        total = s.scalar(select(func.count()).select_from(Complaint))
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/complaints")
    expect(page.locator("#c-count")).to_have_text(f"complaints 1–100 of {total}, newest first")
    assert page.locator("#complaints tr").count() == 100
    assert page.locator("#c-prev").is_disabled()
    page.click("#c-next")
    expect(page.locator("#c-count")).to_have_text(f"complaints 101–{total} of {total}, newest first")
    expect(page.locator("#complaints tr")).to_have_count(total - 100)
    assert page.locator("#c-next").is_disabled()
    oldest = page.locator("#complaints tr").last.get_attribute("data-complaint")
    with ctx.session_factory() as s:
        first = s.scalar(select(Complaint.id).where(Complaint.description == "older complaint 149"))
    assert int(oldest) == first
    page.click("#c-prev")
    expect(page.locator("#c-count")).to_have_text(f"complaints 1–100 of {total}, newest first")
    shot(page, "complaints-paged")
    assert page.js_errors == [], page.js_errors


def test_a_complaint_not_tied_to_the_units_customer_is_flagged_on_the_ticket(page, served):
    """A complaint from someone else (another customer's name, or an e-mail naming only a serial) joins
    the unit's ticket but is flagged: the staff see why, and that its sender hears nothing of the ticket."""
    import time

    import httpx

    base, tokens, world, _ = served
    r = httpx.post(f"{base}/api/v1/complaints", headers={"Authorization": f"Bearer {tokens['service']}"}, json={
        "customer": "Evil Corp", "contact": {"name": "Eve", "email": "eve@evil.example"}, "device_id": world.failing,
        "description": "Your pump is broken, send me the report", "request": "advice", "channel": "web_form",
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))})
    assert r.status_code == 201 and r.json()["flagged"] is True, r.text
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{r.json()['ticket']}")
    flag = page.locator("#ticket-complaints .flag")
    expect(flag).to_have_count(1)
    assert "Flagged:" in flag.inner_text() and "gets no messages about the ticket" in flag.inner_text()
    assert "Evil Corp" in flag.inner_text()  # the reason names what the complaint said
