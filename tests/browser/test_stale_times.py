"""Times that are relative to now keep up with it on a page left open: the unit page's "assessed on data
of … (1m 18s ago)" was drawn again only with the unit's own new assessments, so for a unit that stopped
sending (the one to look at) it said "1m 18s ago" an hour later. The browser's clock is moved on by
Playwright, not waited for."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_the_age_of_a_units_last_assessment_grows_on_an_open_page(page, served):
    base, tokens, world, _ = served
    page.clock.install(time=time.time())
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id={world.failing}")
    assessed = page.locator("#assessed")
    expect(assessed).to_have_text(re.compile(r"^assessed on data of \d{4}-\d\d-\d\d \d\d:\d\d UTC \((\d+m \d+s ago|just now)\)$"))
    page.clock.fast_forward("03:00:00")  # nothing new from the unit meanwhile
    expect(assessed).to_have_text(re.compile(r"^assessed on data of \d{4}-\d\d-\d\d \d\d:\d\d UTC \(3h \d+m ago\)$"))
    assert page.js_errors == [], page.js_errors
