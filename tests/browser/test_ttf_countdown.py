"""A silent unit's time to failure is counted down: the pages showed a unit's time to failure as it was at its
last assessment, so a unit that went silent 10 hours ago with "30 h left" still said 30 h, on the unit page and
the fleet list, for as long as it stayed silent; and once that time had run out it kept saying so. They now
count from the API's due time (failure_due_at) to now, and say "overdue" (never a negative time) once it has
passed. The browser's clock is set by Playwright, not waited for."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login
from tests.browser.test_unit_page import save_health

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
H = 3600.0


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_a_silent_units_time_to_failure_counts_down_then_says_overdue(page, served):
    from detectors.types import Assessment

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0331", model="P-200", customer="ACME", site="Bremen")
    now = float(round(time.time()))
    # assessed on data of 10 h ago, nothing from the unit since: 30 h left then, 20 h now
    save_health(ctx, "P-0331", Assessment(ts=now - 10 * H, state="warning", failure_mode="outer_race",
                                          ttf_s=30 * H, ttf_low_s=20 * H, ttf_high_s=40 * H, reasons=["BPFO rising"]))
    page.clock.set_fixed_time(now)
    login(page, base, tokens["viewer"])
    row = page.locator('#units tr[data-unit="P-0331"]')  # its 4th cell: the time to failure
    expect(row.locator("td").nth(3)).to_have_text("20h 0m (10h 0m – 1d 6h)")

    page.goto(f"{base}/ui/unit?id=P-0331")
    expect(page.locator("#ttf")).to_have_text("20h 0m")
    expect(page.locator("#ttf-range")).to_have_text("likely between 10h 0m and 1d 6h")

    # 15 h on, the page left open: the low end has passed
    page.clock.set_fixed_time(now + 15 * H)
    expect(page.locator("#ttf")).to_have_text("5h 0m")
    expect(page.locator("#ttf-range")).to_have_text("likely within 15h 0m")

    # 21 h on: the estimate ran out an hour ago, without a newer one
    page.clock.set_fixed_time(now + 21 * H)
    expect(page.locator("#ttf")).to_have_text("overdue")
    expect(page.locator("#ttf-range")).to_have_text(
        f"was due {_utc(now + 20 * H)}, as of the estimate on data of {_utc(now - 10 * H)}")
    page.goto(f"{base}/ui/")
    expect(row.locator("td").nth(3)).to_have_text(f"overdue (due {_utc(now + 20 * H)})")
    assert "-" not in row.locator("td").nth(3).inner_text().replace(_utc(now + 20 * H), "")
    # the unit page's one 404 is the spectrum of a unit with no snapshot received (said on the page as such)
    assert [e for e in page.js_errors if "status of 404" not in e] == [], page.js_errors


def test_the_fleet_list_counts_down_on_a_page_left_open(page, served):
    """The fleet list is drawn again with each save of assessments; between them (or with no unit reporting)
    its times to failure count down too."""
    from detectors.types import Assessment

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0332", model="P-200", customer="ACME", site="Bremen")
    now = float(round(time.time()))
    save_health(ctx, "P-0332", Assessment(ts=now, state="warning", failure_mode="imbalance", ttf_s=3 * H,
                                          ttf_low_s=2 * H, ttf_high_s=4 * H, reasons=["1× rising"]))
    page.clock.set_fixed_time(now)
    login(page, base, tokens["viewer"])
    cell = page.locator('#units tr[data-unit="P-0332"] td').nth(3)
    expect(cell).to_have_text("3h 0m (2h 0m – 4h 0m)")
    page.clock.set_fixed_time(now + 2.5 * H)
    expect(cell).to_have_text("30m 0s (now – 1h 30m)")
    page.clock.set_fixed_time(now + 3 * H + 60)
    expect(cell).to_have_text(f"overdue (due {_utc(now + 3 * H)})")
    assert page.js_errors == [], page.js_errors
