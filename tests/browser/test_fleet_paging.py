"""The fleet page over more units than one page: every unit can be reached, the counter says which
ones are shown, the order can be chosen, and the filters say what they match."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import expect, shot
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

EXTRA = 150  # with the scenario's 3: more than the page of 100 (the table used to stop at 500, silently)


def _more_units(ctx) -> None:
    from detectors.types import Assessment
    from foreshock.models import DetectorState

    for i in range(EXTRA):
        ctx.registry.create_unit(f"X-{i:04d}", model="P-200", customer="Bulk", site="Depot")
    stuck = Assessment(ts=ctx.alerts.clock() - 60, state="unknown", sensor_fault="stuck",
                       reasons=["cannot assess: the signal is stuck at 0.5 g"])
    with ctx.session_factory.begin() as s:
        s.add(DetectorState(device_id="X-0149", state_json="{}", health="unknown",
                            assessment_json=json.dumps(stuck.to_dict())))


def test_every_unit_of_a_large_fleet_is_reachable_page_by_page(page, served):
    base, tokens, world, ctx = served
    _more_units(ctx)
    total = EXTRA + 3
    login(page, base, tokens["viewer"])

    expect(page.locator("#count")).to_have_text(f"units 1–100 of {total}")
    assert page.locator("#units tr").count() == 100
    assert page.locator("#units tr").first.get_attribute("data-unit") == world.failing  # closest to failure first
    assert page.locator("#page-prev").is_disabled()
    page.click("#page-next")
    expect(page.locator("#count")).to_have_text(f"units 101–{total} of {total}")
    expect(page.locator("#units tr")).to_have_count(total - 100)
    assert page.locator("#page-next").is_disabled()
    # the unit that cannot be assessed says why, not a bare dash
    expect(page.locator('#units tr[data-unit="X-0149"]')).to_contain_text("sensor fault (stuck)")
    shot(page, "fleet-page-2")

    # a filter starts again at the first page
    page.fill("#f-customer", "Globex")
    expect(page.locator("#count")).to_have_text("1 unit")
    assert page.locator("#units tr").first.get_attribute("data-unit") == world.watch
    page.fill("#f-customer", "")
    expect(page.locator("#count")).to_have_text(f"units 1–100 of {total}")

    # the order can be chosen: by serial number
    page.select_option("#f-sort", "device_id")
    expect(page.locator("#units-heading")).to_have_text("Units, serial number")
    expect(page.locator("#units tr").first).to_have_attribute("data-unit", "P-0001")
    assert page.locator("#units tr").nth(3).get_attribute("data-unit") == "X-0000"
    page.click("#page-next")
    expect(page.locator("#units tr").last).to_have_attribute("data-unit", "X-0149")
    assert page.js_errors == [], page.js_errors


def test_customer_and_site_filters_offer_the_registered_names(page, served):
    """Customer and site match exactly: typing "acme" found nothing and said nothing."""
    base, tokens, _, _ = served
    login(page, base, tokens["viewer"])
    page.locator("#units tr").first.wait_for()
    customers = page.eval_on_selector_all("#customers option", "os => os.map((o) => o.value)")
    assert {"ACME", "Globex"} <= set(customers), customers
    assert "Bremen" in page.eval_on_selector_all("#sites option", "os => os.map((o) => o.value)")
    page.fill("#f-customer", "acme")
    expect(page.locator("#count")).to_have_text("0 units")
    expect(page.locator("#no-units")).to_contain_text("matched exactly as registered")
    page.fill("#f-customer", "ACME")
    expect(page.locator("#count")).to_have_text("2 units")
    assert page.js_errors == [], page.js_errors
