"""The corrective actions page rounds the verification's rate ratio like its statement."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_complaints import record_and_verify

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_verified_action_shows_its_ratio_rounded(page, served):
    row = record_and_verify(page, served, "Batch B7 regrease", "2026-01-01")
    verdict, ratio = row.locator(".verdict").inner_text(), row.locator("td").nth(4).inner_text()
    assert "_" not in verdict, verdict
    # the scenario's one failure (B7) against none outside: a wide interval, "0.019–473.0578" before
    assert re.fullmatch(r"\d+\.\d\d× \(\d+\.\d\d–\d+\.\d\d\)", ratio), ratio
    assert page.js_errors == [], page.js_errors
