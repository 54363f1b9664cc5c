"""A technician on a phone (390 x 844): every page fits the screen's width, the navigation stays on
the header's dark bar, and wide tables scroll inside their panel instead of the whole page.

The header's six links ran off the dark bar as white text on the light page ("Actions" and
"Reports" unreadable) and every page scrolled sideways to 683 px or more.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, expect, opened_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def phone(browser):
    with opened_page(browser, PHONE) as p:
        yield p


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    return box


def test_every_page_fits_a_phone_and_its_navigation_stays_readable(phone, served):
    base, tokens, world, _ = served
    phone.goto(f"{base}/ui/login")
    phone.fill("#token", tokens["admin"])
    phone.click("#login-button")
    phone.wait_for_url(f"{base}/ui/")
    pages = {"fleet": ("/ui/", "#units tr"), "unit": (f"/ui/unit?id={world.failing}", "#chart-velocity canvas"),
             "alerts": ("/ui/alerts", "#alerts tr"), "tickets": (f"/ui/tickets#{world.ticket}", "#eightd-form"),
             "complaints": ("/ui/complaints", "#complaint-form"), "actions": ("/ui/corrective", "#action-form"),
             "reports": ("/ui/reports", "#monthly-sla")}
    for name, (path, ready) in pages.items():
        phone.goto(f"{base}{path}")
        phone.locator(ready).first.wait_for()
        if name != "actions":  # the one page without live updates
            expect(phone.locator("#live")).to_have_text("● live")
        shot(phone, f"phone-{name}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: the page is {width} px wide on a {PHONE['width']} px phone"
        header = _box(phone.locator("header"))
        for link in phone.locator("header nav a, header button").all():
            box = _box(link)
            inside = (box["x"] >= header["x"] and box["x"] + box["width"] <= header["x"] + header["width"]
                      and box["y"] >= header["y"] and box["y"] + box["height"] <= header["y"] + header["height"])
            assert inside, f"{name}: '{link.inner_text()}' lies outside the header's bar"
    # the fleet's table is wider than a phone: it scrolls inside its own box, the page does not
    phone.goto(f"{base}/ui/")
    phone.locator("#units tr").first.wait_for()
    assert phone.locator("#units").evaluate("(t) => t.closest('table').scrollWidth > t.closest('table').clientWidth")
    assert phone.js_errors == [], phone.js_errors
