"""A field technician on a phone (390 x 844) and a tablet (768 x 1024), both touch screens: every page fits
the screen's width with its key parts inside it, everything to tap is at least 32 px tall, a ticket tapped
on the board opens where it can be seen, so does an error, and the live mark's pause says why and counts down.

What was wrong before: on the tablet the alert inbox made the whole page 804 px wide and Log out wrapped
alone onto a second row; on both, the header's links, the table's links and the fields were 13 to 30 px
tall; a ticket tapped far down the board on a phone opened its panel above, out of sight, and an error
(a refused save) was put at the page's top, out of sight of the form far down; the reason for
a pause was only in a tooltip (no mouse, no tooltip) and "retry in 33 s" stood still.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import expect, opened_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

DEVICES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3},
    "tablet": {"viewport": {"width": 768, "height": 1024}, "device_scale_factor": 2},
}
TAP_PX = 32  # the smallest thing a finger is asked to hit

# What a visible link, button or field measures (a checkbox by the label around it, which takes the tap too),
# and what lies wider than the screen outside a box that scrolls on its own.
MEASURE = """(width) => {
  const scrolls = (e) => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true; } return false; };
  const name = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}`
    + ` "${(e.innerText || e.value || "").trim().slice(0, 30)}"`;
  const small = [], outside = [], cut = [];
  const ruler = document.createElement("canvas").getContext("2d");
  for (const e of document.querySelectorAll("header *, main *")) {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(e).visibility === "hidden") continue;
    if ((r.left < -1 || r.right > width + 1) && !scrolls(e)) {
      outside.push(`${name(e)} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    if (e.placeholder) {  // a hint cut short ("from the unit when empt")
      const st = getComputedStyle(e); ruler.font = st.font;
      const room = e.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
      if (ruler.measureText(e.placeholder).width > room + 1) cut.push(`${name(e)} "${e.placeholder}"`);
    }
    if (!e.matches("a, button, input, select, textarea, summary") || scrolls(e)) continue;
    const tap = e.matches("input[type=checkbox], input[type=radio]") && e.closest("label")
      ? e.closest("label").getBoundingClientRect() : r;
    if (tap.height < 32) small.push(`${name(e)} ${Math.round(tap.height)} px`);
  }
  return { page: document.scrollingElement.scrollWidth, small, outside, cut };
}"""


@pytest.fixture(params=list(DEVICES))
def device(request, browser, served):
    """(name, width, page) of a logged-in touch screen."""
    base, tokens, _, _ = served
    spec = DEVICES[request.param]
    with opened_page(browser, spec["viewport"], device_scale_factor=spec["device_scale_factor"],
                     is_mobile=True, has_touch=True) as p:
        p.goto(f"{base}/ui/login")
        p.locator("#token").fill(tokens["admin"])
        p.locator("#login-button").tap()
        p.wait_for_url(f"{base}/ui/")
        yield request.param, spec["viewport"]["width"], p


def _fits(p, name: str, width: int) -> None:
    m = p.evaluate(MEASURE, width)
    # the page itself (a mobile browser widens its layout to the content: innerWidth is no yardstick)
    assert m["page"] <= width, f"{name}: the page is {m['page']} px wide on a {width} px screen"
    assert m["outside"] == [], f"{name}: outside the {width} px screen: {m['outside']}"
    assert m["small"] == [], f"{name}: under {TAP_PX} px to tap: {m['small']}"
    assert m["cut"] == [], f"{name}: a field's hint is cut off: {m['cut']}"


def _inside(p, selector: str, width: int) -> None:
    box = p.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    inside = box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    assert inside, f"{selector} lies outside the screen: {box}"


PAGES = {  # page: (path, what shows it is ready, its key parts)
    "login": ("/ui/login", "#token", ["#token", "#login-button"]),
    "fleet": ("/ui/", "#units tr", ["#summary", "#f-customer", "table:has(#units)"]),
    "unit": ("/ui/unit?id={failing}", "#chart-velocity canvas",
             ["h1", "#reasons", "#relearn-open", "#range", "#chart-velocity canvas", "#chart-kurtosis canvas",
              "#chart-envelope-peaks canvas", "#chart-spectrum canvas", "#chart-envelope canvas"]),
    "alerts": ("/ui/alerts", "#alerts tr", ["#f-status", "table:has(#alerts)"]),
    "tickets": ("/ui/tickets#{ticket}", "#eightd-form", ["#ticket-detail h2", "#eightd-form", "#board"]),
    "complaints": ("/ui/complaints", "#complaint-form", ["#complaint-form", "#c-submit"]),
    "actions": ("/ui/corrective", "#action-form", ["#action-form"]),
    "reports": ("/ui/reports", "#monthly-sla", ["#monthly-sla", ".u-wrap"]),
}


def test_every_page_fits_the_screen_with_its_parts_inside_and_big_enough_to_tap(device, served):
    name, width, p = device
    base, _, world, _ = served
    for page_name, (path, ready, parts) in PAGES.items():
        p.goto(base + path.format(failing=world.failing, ticket=world.ticket))
        p.locator(ready).first.wait_for()
        if page_name not in ("login", "actions"):  # the pages that follow the live stream
            expect(p.locator("#live")).to_have_text("● live")
        if page_name != "login":
            parts = ["header nav", "#logout", *parts]
        shot(p, f"{name}-{page_name}")
        _fits(p, f"{name} {page_name}", width)
        for part in parts:
            _inside(p, part, width)
    assert p.js_errors == [], p.js_errors


def test_a_ticket_tapped_on_the_board_opens_in_sight_and_moves_on(device, served):
    name, width, p = device
    base, _, world, _ = served
    p.goto(f"{base}/ui/tickets#{world.ticket}")  # its panel open above the board, as after an earlier tap
    detail = p.locator("#ticket-detail")
    expect(detail.locator("#eightd-form")).to_be_visible()
    num = p.locator(f".ticket[data-ticket='{world.ticket}'] a.num")
    num.scroll_into_view_if_needed()  # down the board, the panel's top out of sight
    expect(detail.locator("h2")).not_to_be_in_viewport()
    num.tap()
    expect(detail.locator("h2")).to_be_in_viewport()
    shot(p, f"{name}-ticket-tapped")
    _fits(p, f"{name} ticket detail", width)
    for form in ("#eightd-form", "#feedback-form"):
        _inside(p, form, width)
    # a save refused far down the panel says why where it can be seen (it was put at the page's top)
    content = detail.locator("#eightd-form input[name=content]")
    content.fill("   ")
    detail.locator("#eightd-form button[type=submit]").tap()
    expect(p.locator("main > .error[role=alert]")).to_contain_text("the content is empty")
    expect(p.locator("main > .error[role=alert]")).to_be_in_viewport()
    detail.locator("#close-detail").tap()
    expect(detail).to_be_hidden()
    status = p.locator(f".ticket[data-ticket='{world.ticket}']").get_attribute("data-status")
    move = p.locator(f".ticket[data-ticket='{world.ticket}'] button.move").first
    to = move.get_attribute("data-to")
    move.tap()
    expect(p.locator(f".ticket[data-ticket='{world.ticket}']")).to_have_attribute("data-status", to)
    assert to != status
    assert p.js_errors == [], p.js_errors


def test_a_paused_stream_says_why_on_a_tap_and_counts_down(device, served):
    name, width, p = device
    base, _, _, _ = served
    reason = ("this token already has 8 event streams open, the limit set by "
              "api.max_event_streams_per_token: close a tab or use another token")
    p.route("**/api/v1/events?*", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "30", "Content-Type": "application/json"},
        body=json.dumps({"detail": reason, "limit": 8, "setting": "api.max_event_streams_per_token"})))
    p.goto(f"{base}/ui/")
    mark = p.locator("#live")
    expect(mark).to_contain_text("○ paused: too many open tabs · retry in ")
    first = int(re.search(r"retry in (\d+) s", mark.inner_text()).group(1))
    expect(mark).not_to_have_text(f"○ paused: too many open tabs · retry in {first} s")  # it counts down
    later = int(re.search(r"retry in (\d+) s", mark.inner_text()).group(1))
    assert 0 <= later < first
    _inside(p, "#live", width)
    mark.tap()
    why = p.locator("#live-why")
    expect(why).to_have_text(reason)
    _inside(p, "#live-why", width)
    shot(p, f"{name}-paused")
    _fits(p, f"{name} paused", width)
    mark.tap()
    expect(why).to_have_count(0)
    assert all("429" in e for e in p.js_errors), p.js_errors
