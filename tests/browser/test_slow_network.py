"""Over a slow link a form's answer takes a while: a second click (or Enter) on "Register" or "Record"
sent the same complaint or corrective action again, each one registered (the complaint joined its ticket
twice, two identical actions were listed). The button now waits for the answer.

The link is made slow by holding the form's request in the test until the second click was tried.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


class Held:
    """POSTs to one API path, held until ``release()``; every other request goes on at once."""

    def __init__(self, page, path: str):
        self.routes: list = []
        self.posts = 0

        def handle(route):
            if route.request.method == "POST":
                self.posts += 1
                self.routes.append(route)
            else:
                route.continue_()

        page.route(f"**/api/v1{path}", handle)

    def release(self) -> None:
        while self.routes:
            self.routes.pop(0).continue_()


def _complaints(ctx) -> int:
    from sqlalchemy import func, select

    from alerts.models import Complaint

    with ctx.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Complaint))


def test_a_second_click_on_register_over_a_slow_link_registers_one_complaint(page, served):
    base, tokens, world, ctx = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/complaints")
    page.fill("#c-contact_phone", "+49 421 555 0100")
    page.fill("#c-device_id", world.failing)
    page.fill("#c-description", "Pump on line 3 grinds")
    before = _complaints(ctx)
    held = Held(page, "/complaints")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/v1/complaints")):
        page.click("#c-submit")
    button = page.locator("#c-submit")
    expect(button).to_be_disabled()
    expect(button).to_have_text("Registering…")
    button.click(force=True)  # the impatient second click, and Enter in a field
    page.press("#c-contact_phone", "Enter")
    held.release()
    expect(page.locator("#c-ok")).to_contain_text(world.ticket)
    expect(button).to_be_enabled()
    expect(button).to_have_text("Register")
    held.release()  # a second request, had one been sent
    assert held.posts == 1
    assert _complaints(ctx) == before + 1
    assert page.js_errors == [], page.js_errors


def test_a_second_click_on_record_over_a_slow_link_records_one_corrective_action(page, served):
    base, tokens, _, _ = served
    login(page, base, tokens["engineer"])
    page.goto(f"{base}/ui/corrective")
    page.fill("#a-title", "Bearing supplier changed (slow link)")
    page.fill("#a-applied_at", "2026-10-01")
    page.fill("#a-batch", "B7")
    held = Held(page, "/corrective-actions")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/api/v1/corrective-actions")):
        page.click("#a-submit")
    expect(page.locator("#a-submit")).to_be_disabled()
    page.locator("#a-submit").click(force=True)
    page.press("#a-title", "Enter")
    held.release()
    listed = page.locator("#actions tr").filter(has_text="Bearing supplier changed (slow link)")
    expect(listed).to_have_count(1)
    expect(page.locator("#a-submit")).to_be_enabled()
    held.release()
    assert held.posts == 1
    assert page.js_errors == [], page.js_errors
