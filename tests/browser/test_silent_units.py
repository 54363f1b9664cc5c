"""A unit the broker cut off without publishing its last will (a credential rotated at a reload) stayed
"online" on the fleet and unit pages for ever, while the deadman already counted it silent."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_silent_unit_says_so_beside_its_presence(page, served):
    from devices.protocol import now_ms

    base, tokens, _, ctx = served
    reg = ctx.registry
    reg.create_model("F-60", rated_rpm=1800, reporting_interval_s=60)
    reg.create_unit("F-0001", model="F-60", customer="ACME")
    two_hours_ago = now_ms() - 7_200_000
    reg.record_status("F-0001", "online", two_hours_ago)
    reg.mark_seen("F-0001", two_hours_ago)
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/?model=F-60")
    silent = re.compile(r"online, silent 2h \d+m")  # minutes pass while a slow machine loads the page
    expect(page.locator("tr[data-unit='F-0001'] td").last).to_have_text(silent)
    page.goto(f"{base}/ui/unit?id=F-0001")
    expect(page.locator("main")).to_contain_text(silent)
    assert [e for e in page.js_errors if "404" not in e] == [], page.js_errors
