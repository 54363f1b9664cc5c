"""The corrective actions page rounds the verification's rate ratio like its statement."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_verified_action_shows_its_ratio_rounded(page, served):
    base, tokens, _, _ = served
    login(page, base, tokens["engineer"])
    page.goto(f"{base}/ui/corrective")
    page.fill("#a-title", "Batch B7 regrease")
    page.fill("#a-applied_at", "2026-01-01")
    page.fill("#a-batch", "B7")
    page.click("#a-submit")
    row = page.locator("#actions tr").first
    expect(row).to_contain_text("Batch B7 regrease")
    row.locator("button").click()
    expect(row.locator(".verdict")).not_to_have_text("not verified")
    verdict, ratio = row.locator(".verdict").inner_text(), row.locator("td").nth(4).inner_text()
    assert "_" not in verdict, verdict
    # the scenario's one failure (B7) against none outside: a wide interval, "0.019–473.0578" before
    assert re.fullmatch(r"\d+\.\d\d× \(\d+\.\d\d–\d+\.\d\d\)", ratio), ratio
    assert page.js_errors == [], page.js_errors
