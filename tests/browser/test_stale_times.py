"""Times that are relative to now keep up with it on a page left open: the unit page's "assessed on data
of … (1m 18s ago)" was drawn again only with the unit's own new assessments, so for a unit that stopped
sending (the one to look at) it said "1m 18s ago" an hour later; the complaint form's "When" stayed at the
time the page was opened. The browser's clock is moved on by
Playwright, not waited for."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.conftest import expect, opened_page
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
BERLIN = ZoneInfo("Europe/Berlin")
ON = r"assessed on data of \d{4}-\d\d-\d\d \d\d:\d\d UTC"


def test_the_age_of_a_units_last_assessment_grows_on_an_open_page(page, served):
    base, tokens, world, _ = served
    page.clock.install(time=time.time())
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id={world.failing}")
    assessed = page.locator("#assessed")
    expect(assessed).to_have_text(re.compile(rf"^{ON} \((\d+m \d+s ago|just now)\)$"))
    page.clock.fast_forward("03:00:00")  # nothing new from the unit meanwhile
    expect(assessed).to_have_text(re.compile(rf"^{ON} \(3h \d+m ago\)$"))
    assert page.js_errors == [], page.js_errors


def _local(page) -> datetime:
    return datetime.strptime(page.input_value("#c-occurred_at"), "%Y-%m-%dT%H:%M").replace(tzinfo=BERLIN)


def test_the_complaint_forms_when_is_now_on_a_page_left_open(browser, served):
    """The form's "When" kept the time the page was opened: a page open since the morning registered the
    afternoon's calls at 08:02, and a time changed for one call stayed for the next."""
    base, tokens, world, _ = served
    with opened_page(browser, timezone_id="Europe/Berlin") as page:
        page.clock.install(time=time.time() - 3 * 3600)  # the page was opened three hours ago
        login(page, base, tokens["service"])
        page.goto(f"{base}/ui/complaints")
        assert abs(_local(page) - datetime.now(BERLIN) + timedelta(hours=3)) < timedelta(minutes=2)
        page.clock.fast_forward("03:00:00")
        page.fill("#c-contact_phone", "+49 421 555 0100")
        page.fill("#c-device_id", world.failing)
        page.fill("#c-description", "noise since this morning")
        page.click("#c-submit")
        expect(page.locator("#c-ok")).to_contain_text(world.ticket)
        listed = httpx.get(f"{base}/api/v1/complaints",
                           headers={"Authorization": f"Bearer {tokens['service']}"}).json()
        got = [c for c in listed["data"] if c["description"] == "noise since this morning"]
        assert len(got) == 1
        occurred = datetime.fromisoformat(got[0]["occurred_at"].replace("Z", "+00:00"))
        assert abs(occurred - datetime.now(timezone.utc)) < timedelta(minutes=2), occurred

        # a time given for one call does not stay for the next
        page.fill("#c-occurred_at", "2026-11-20T08:30")
        page.fill("#c-description", "stopped on Friday morning")
        page.click("#c-submit")
        expect(page.locator("#complaints tr").first).to_contain_text(world.ticket)
        expect(page.locator("#c-description")).to_have_value("")
        assert abs(_local(page) - datetime.now(BERLIN)) < timedelta(minutes=2)
        assert page.js_errors == [], page.js_errors
