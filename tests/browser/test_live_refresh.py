"""A live refresh never draws over a newer one: the fleet page refreshes at every save of new
assessments (every 30 s, 5 s in the demo) and the inbox at every alert, and a refresh asked before a
filter changed could answer after the filtered one and put the unfiltered table back under the filter.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE, expect, opened_page
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

# answers to the requests without `marker` arrive 2.5 s late (a busy server, a slow line)
SLOW_UNLESS = """([path, marker]) => { const f = window.fetch; window.fetch = async (url, o) => {
  const r = await f(url, o);
  if (String(url).includes(path) && !String(url).includes(marker)) await new Promise((ok) => setTimeout(ok, 2500));
  return r; }; }"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
def test_a_fleet_filter_chosen_during_a_live_refresh_stays_applied(browser, served, viewport):
    base, tokens, world, ctx = served
    with opened_page(browser, viewport) as page:
        login(page, base, tokens["viewer"])
        expect(page.locator("#live")).to_have_text("● live")
        expect(page.locator("#units tr")).to_have_count(3)
        page.evaluate(SLOW_UNLESS, ["/api/v1/units?", "health="])
        ctx.events.publish("health", {"units": 3, "device_ids": [world.failing], "states": {world.failing: "alarm"}})
        page.wait_for_timeout(1300)  # the live refresh (debounced 1 s) has asked, unfiltered
        page.select_option("#f-health", "alarm")
        expect(page.locator("#count")).to_have_text("1 unit")
        page.wait_for_timeout(3000)  # the late unfiltered answer has come
        expect(page.locator("#units tr")).to_have_count(1)
        expect(page.locator("#count")).to_have_text("1 unit")
        assert page.locator("#units tr").first.get_attribute("data-unit") == world.failing


def test_an_inbox_filter_chosen_during_a_live_refresh_stays_applied(page, served):
    base, tokens, world, ctx = served
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/alerts")
    expect(page.locator("#live")).to_have_text("● live")
    expect(page.locator("#alerts tr[data-alert]")).to_have_count(2)  # the scenario's two open alerts
    page.evaluate(SLOW_UNLESS, ["/api/v1/alerts?", "status=cleared"])
    ctx.events.publish("alert", {"device_id": world.healthy, "change": "raised"})
    page.wait_for_timeout(800)  # the live refresh (debounced 0.5 s) has asked for the open ones
    page.select_option("#f-status", "cleared")
    expect(page.locator("#alerts")).to_have_text("No alerts.")
    page.wait_for_timeout(3000)
    expect(page.locator("#alerts")).to_have_text("No alerts.")
    assert page.js_errors == [], page.js_errors
