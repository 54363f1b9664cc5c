"""The corrective actions page rounds the verification's rate ratio like its statement, and shows what an
action was recorded for."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import expect
from tests.browser.test_complaints import record_and_verify
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_a_verified_action_shows_its_ratio_rounded(page, served):
    row = record_and_verify(page, served, "Batch B7 regrease", "2026-01-01")
    verdict, ratio = row.locator(".verdict").inner_text(), row.locator("td").nth(4).inner_text()
    assert "_" not in verdict, verdict
    # the scenario's one failure (B7) against none outside: a wide interval, "0.019–473.0578" before
    assert re.fullmatch(r"\d+\.\d\d× \(\d+\.\d\d–\d+\.\d\d\)", ratio), ratio
    assert page.js_errors == [], page.js_errors


def test_an_action_shows_the_failure_modes_and_ticket_it_was_recorded_for(page, served):
    """The failure modes an action covers (its verdict counts only those) and its ticket were recorded,
    and not shown: an action against outer race failures read like one against every failure of the batch."""
    base, tokens, world, _ = served
    login(page, base, tokens["engineer"])
    page.goto(f"{base}/ui/corrective")
    page.fill("#a-title", "Seal kit changed")
    page.fill("#a-applied_at", "2026-02-01")
    page.fill("#a-failure_modes", "outer race, imbalance")  # as the dashboard writes them
    page.fill("#a-ticket", world.ticket)
    page.fill("#a-batch", "B7")
    page.click("#a-submit")
    row = page.locator("#actions tr").filter(has_text="Seal kit changed")
    expect(row.locator(".scope")).to_have_text(
        f"batch B7 · failure modes: imbalance, outer race · ticket {world.ticket}")
    expect(row.locator(f".scope a[href='/ui/tickets#{world.ticket}']")).to_have_count(1)
    page.fill("#a-title", "Grease interval halved")  # no failure modes given: it counts every failure
    page.fill("#a-applied_at", "2026-03-01")
    page.fill("#a-batch", "B7")
    page.click("#a-submit")
    expect(page.locator("#actions tr").filter(has_text="Grease interval halved").locator(".scope")).to_have_text(
        "batch B7 · every failure mode")
    assert page.js_errors == [], page.js_errors
