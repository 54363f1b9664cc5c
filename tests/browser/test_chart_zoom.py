"""Zooming the unit page's charts: a finger drags sideways across a chart to narrow its x range (a vertical
swipe still scrolls the page), a double tap or "Show whole range" shows it all again; a mouse drags and
double-clicks the same way; a zoom outlives the live redraws of its chart.

What was wrong before: a finger's drag did nothing (uPlot follows a mouse only, and the browser took the
gesture), and a mouse's drag on a trend did nothing either: its x range, kept on the window chosen, undid
every zoom.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, expect, opened_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WEEK_S = 7 * 86400


def _login(p, base, token):
    p.goto(f"{base}/ui/login")
    p.locator("#token").fill(token)
    p.locator("#login-button").click()
    p.wait_for_url(f"{base}/ui/")


def _span(p, chart: str) -> tuple[float, float]:
    box = p.locator(chart)
    return float(box.get_attribute("data-x-min")), float(box.get_attribute("data-x-max"))


def _narrowed(p, chart: str, before: tuple[float, float]) -> None:
    """Waits until the chart shows less than half its range before (the drags below cover 40 % of it)."""
    p.wait_for_function("([sel, width]) => { const d = document.querySelector(sel).dataset;"
                        " return d.xMax - d.xMin < width / 2; }", arg=[chart, before[1] - before[0]])


def _whole(p, chart: str, width: float) -> None:
    p.wait_for_function("([sel, width]) => { const d = document.querySelector(sel).dataset;"
                        " return Math.abs((d.xMax - d.xMin) - width) < 1; }", arg=[chart, width])


def _swipe(cdp, start: tuple[float, float], end: tuple[float, float], steps: int = 10) -> None:
    """One finger from ``start`` to ``end`` (CSS pixels in the viewport), by Chrome DevTools Protocol touch events."""
    (x0, y0), (x1, y1) = start, end
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for i in range(1, steps + 1):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x0 + (x1 - x0) * i / steps, "y": y0 + (y1 - y0) * i / steps}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _velocity_chart(p, base: str, tokens: dict, world) -> str:
    """The failing unit's velocity trend, drawn, live, in sight: its selector."""
    _login(p, base, tokens["viewer"])
    p.goto(f"{base}/ui/unit?id={world.failing}")
    chart = "#chart-velocity"
    p.locator(f"{chart} canvas").wait_for()
    expect(p.locator("#live")).to_have_text("● live")
    p.locator(chart).scroll_into_view_if_needed()
    return chart


def _plot(p, chart: str) -> dict:
    box = p.locator(f"{chart} .u-over").bounding_box()
    assert box is not None, f"{chart} is not drawn"
    return box


def test_a_finger_drags_a_chart_to_zoom_swipes_the_page_and_double_taps_back(browser, served):
    base, tokens, world, _ = served
    with opened_page(browser, **PHONE) as p:
        chart = _velocity_chart(p, base, tokens, world)
        cdp = p.context.new_cdp_session(p)
        # the page says how, in a finger's words
        expect(p.locator("#main .zoom-hint .by-finger").first).to_be_visible()
        expect(p.locator("#main .zoom-hint .by-mouse").first).to_be_hidden()
        whole = _span(p, chart)
        assert abs((whole[1] - whole[0]) - WEEK_S) < 600, whole  # the week (it ends a minute ahead)

        # a vertical swipe across the chart scrolls the page and zooms nothing
        box = _plot(p, chart)
        y_before = p.evaluate("scrollY")
        middle = box["x"] + box["width"] / 2
        _swipe(cdp, (middle, box["y"] + box["height"] * 0.9), (middle, box["y"] + box["height"] * 0.1))
        p.wait_for_function("(y) => scrollY > y + 20", arg=y_before)
        assert _span(p, chart) == whole
        expect(p.locator(f"{chart} .zoom-bar")).to_be_hidden()

        # a sideways drag over the middle 40 % narrows the chart to about that
        box = _plot(p, chart)
        y = box["y"] + box["height"] / 2
        _swipe(cdp, (box["x"] + box["width"] * 0.3, y), (box["x"] + box["width"] * 0.7, y))
        _narrowed(p, chart, whole)
        lo, hi = _span(p, chart)
        width = whole[1] - whole[0]
        assert whole[0] + 0.25 * width < lo < hi < whole[0] + 0.75 * width, (whole, lo, hi)
        assert 0.35 * width < hi - lo < 0.45 * width, (whole, lo, hi)
        bar = p.locator(f"{chart} .zoom-bar")
        expect(bar).to_be_visible()
        expect(bar).to_contain_text("zoomed: ")
        assert bar.bounding_box()["x"] >= 0 and bar.bounding_box()["x"] + bar.bounding_box()["width"] <= 390
        assert p.evaluate("document.scrollingElement.scrollWidth") <= 390
        shot(p, "phone-chart-zoomed", full_page=False)

        # the button shows the whole week again
        bar.locator("button.zoom-reset").tap()
        _whole(p, chart, width)
        expect(bar).to_be_hidden()

        # so does a double tap, after another zoom
        box = _plot(p, chart)
        _swipe(cdp, (box["x"] + box["width"] * 0.6, y), (box["x"] + box["width"] * 0.2, y))  # right to left too
        _narrowed(p, chart, whole)
        box = _plot(p, chart)
        # two taps in a row far apart read two values: no double tap
        p.touchscreen.tap(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
        p.touchscreen.tap(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
        expect(p.locator(f"{chart} .u-legend .u-value").first).not_to_have_text("--")
        assert _span(p, chart)[1] - _span(p, chart)[0] < width / 2
        expect(bar).to_be_visible()
        p.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        p.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        _whole(p, chart, width)
        expect(bar).to_be_hidden()

        # a spectrum zooms in frequency the same way
        spectrum = "#chart-envelope"
        p.locator(spectrum).scroll_into_view_if_needed()
        hz = _span(p, spectrum)
        box = _plot(p, spectrum)
        y = box["y"] + box["height"] / 2
        _swipe(cdp, (box["x"] + box["width"] * 0.1, y), (box["x"] + box["width"] * 0.5, y))
        _narrowed(p, spectrum, hz)
        expect(p.locator(f"{spectrum} .zoom-bar")).to_contain_text(" Hz")
        assert p.js_errors == [], p.js_errors


def test_a_mouse_drags_to_zoom_double_clicks_back_and_a_live_redraw_keeps_the_zoom(browser, served):
    base, tokens, world, ctx = served
    with opened_page(browser, DESKTOP) as p:
        _login(p, base, tokens["viewer"])
        p.goto(f"{base}/ui/unit?id={world.failing}")
        chart = "#chart-kurtosis"
        p.locator(f"{chart} canvas").wait_for()
        expect(p.locator("#live")).to_have_text("● live")
        expect(p.locator("#main .zoom-hint .by-mouse").first).to_have_text(
            "Drag across a chart to zoom in; double-click it to see the whole range again.")
        expect(p.locator("#main .zoom-hint .by-finger").first).to_be_hidden()
        whole = _span(p, chart)
        width = whole[1] - whole[0]
        box = _plot(p, chart)
        y = box["y"] + box["height"] / 2
        p.mouse.move(box["x"] + box["width"] * 0.3, y)
        p.mouse.down()
        p.mouse.move(box["x"] + box["width"] * 0.5, y, steps=4)
        p.mouse.move(box["x"] + box["width"] * 0.7, y, steps=4)
        p.mouse.up()
        _narrowed(p, chart, whole)
        zoomed = _span(p, chart)
        expect(p.locator(f"{chart} .zoom-bar")).to_be_visible()
        shot(p, "desktop-chart-zoomed")

        # new assessments redraw the charts (the pointer elsewhere): the zoom stays
        p.mouse.move(5, 5)
        p.locator(f"{chart} canvas").evaluate("(c) => { c.dataset.old = 'yes'; }")
        ctx.events.publish("health", {"units": 1, "device_ids": [world.failing], "states": {world.failing: "alarm"}})
        p.wait_for_function("(sel) => document.querySelector(`${sel} canvas`)?.dataset.old === undefined", arg=chart)
        assert _span(p, chart) == zoomed
        expect(p.locator(f"{chart} .zoom-bar")).to_be_visible()

        # a double click shows the whole window again
        p.locator(f"{chart} .u-over").dblclick()
        _whole(p, chart, width)
        expect(p.locator(f"{chart} .zoom-bar")).to_be_hidden()

        # another window drops a zoom
        p.mouse.move(box["x"] + box["width"] * 0.4, y)
        p.mouse.down()
        p.mouse.move(box["x"] + box["width"] * 0.6, y, steps=4)
        p.mouse.up()
        _narrowed(p, chart, whole)
        p.select_option("#range", "24h")
        _whole(p, chart, 86400)
        expect(p.locator(f"{chart} .zoom-bar")).to_be_hidden()
        assert p.js_errors == [], p.js_errors


def test_a_tap_on_a_chart_holds_its_redraw_only_a_while(browser, served):
    """A tap left the chart "under the pointer" until the next tap elsewhere, and the page redrew no chart
    with new assessments for as long (a mouse resting on a chart holds it, to keep the reading)."""
    base, tokens, world, ctx = served
    with opened_page(browser, **PHONE) as p:
        chart = _velocity_chart(p, base, tokens, world)
        box = _plot(p, chart)
        p.touchscreen.tap(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
        expect(p.locator(f"{chart} .u-legend .u-value").first).not_to_have_text("--")  # the reading
        p.locator(f"{chart} canvas").evaluate("(c) => { c.dataset.old = 'yes'; }")
        ctx.events.publish("health", {"units": 1, "device_ids": [world.failing], "states": {world.failing: "alarm"}})
        # held 15 s for the reading, then redrawn (the timeout leaves room for the hold)
        p.wait_for_function("(sel) => document.querySelector(`${sel} canvas`)?.dataset.old === undefined", arg=chart,
                            timeout=60_000)
        assert p.js_errors == [], p.js_errors
