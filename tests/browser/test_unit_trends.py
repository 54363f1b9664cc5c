"""The unit page's trends show the time window chosen (24 h / 7 d / 30 d / 90 d), also for a new unit."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import shot
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def shown_span(page, chart: str) -> tuple[float, float]:
    box = page.locator(chart)
    # the page's script builds the charts: until it has, the element does not exist (null, not an error)
    page.wait_for_function("(sel) => document.querySelector(sel)?.dataset.xMax !== undefined", arg=chart)
    return float(box.get_attribute("data-x-min")), float(box.get_attribute("data-x-max"))


def test_a_new_unit_with_one_snapshot_shows_the_chosen_week_not_years(page, served):
    """With one or two points uPlot chose its own time range: a 7 d trend of a new unit showed the
    axis from Jan 2027 to Jul 2029."""
    from foreshock.tsdb import Point

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0100", model="P-200", customer="ACME", site="Bremen")
    now = time.time()
    ctx.store.write([Point("vibration", {"device": "P-0100", "axis": "x"},
                           {"rms_g": 0.1, "kurtosis": 3.0, "velocity_rms_mm_s": 1.1, "bpfo_db": 1.0}, int(now * 1000))])
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=P-0100")
    for chart in ("#chart-velocity", "#chart-kurtosis", "#chart-envelope-peaks"):
        lo, hi = shown_span(page, chart)
        assert abs((hi - lo) - 7 * 86400) < 600, (chart, lo, hi)  # the week asked for (ends a minute ahead)
        assert lo < now < hi
    page.select_option("#range", "24h")
    page.wait_for_function("() => { const d = document.querySelector('#chart-velocity')?.dataset;"
                           " return d !== undefined && d.xMax - d.xMin < 2 * 86400; }")
    lo, hi = shown_span(page, "#chart-velocity")
    assert abs((hi - lo) - 86400) < 600 and lo < now < hi
    shot(page, "unit-new-one-snapshot")
    # the one expected console error is the spectrum's 404 (the unit has sent no raw snapshot)
    assert [e for e in page.js_errors if "Failed to load resource" not in e] == []


def test_the_trends_follow_new_assessments_of_the_unit(page, served):
    """A health event refreshed the unit page's header only: its trends stayed as loaded, without the
    snapshots that the new assessment came from, until the page was reloaded."""
    from foreshock.tsdb import Point

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0120", model="P-200", customer="ACME", site="Bremen")
    now = time.time()

    def snapshot_at(t: float) -> None:
        ctx.store.write([Point("vibration", {"device": "P-0120", "axis": "x"},
                               {"rms_g": 0.1, "kurtosis": 3.0, "velocity_rms_mm_s": 1.1}, int(t * 1000))])

    snapshot_at(now - 2 * 86400)  # two days apart: two points however the store averages the week
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=P-0120")
    page.wait_for_function("() => document.querySelector('#chart-velocity')?.dataset.points === '1'")
    page.wait_for_function("() => document.getElementById('live')?.textContent.includes('live')")
    snapshot_at(now)
    ctx.events.publish("health", {"units": 1, "device_ids": ["P-0120"], "states": {"P-0120": "healthy"}})
    page.wait_for_function("() => document.querySelector('#chart-velocity')?.dataset.points === '2'")


def test_the_time_axis_reads_24_hour_utc_and_iso_dates(page, served):
    """The trends' time axis was uPlot's US default ('12pm', '12am' over '11/22', '11/16/26') beside times
    written '2026-11-23 02:20 UTC' everywhere else on the page; the legend's time likewise."""
    import re

    from foreshock.tsdb import Point

    base, tokens, _, ctx = served
    ctx.registry.create_unit("P-0130", model="P-200", customer="ACME", site="Bremen")
    now = time.time()
    ctx.store.write([Point("vibration", {"device": "P-0130", "axis": "x"},
                           {"rms_g": 0.1, "kurtosis": 3.0, "velocity_rms_mm_s": 1.1, "bpfo_db": 1.0},
                           int((now - h * 3600) * 1000)) for h in range(0, 48, 2)])
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/unit?id=P-0130")
    label = re.compile(r"^(\d\d:\d\d(\n\d{4}-\d\d-\d\d|\n\d\d-\d\d)?|\d{4}-\d\d-\d\d|\d\d-\d\d)$")
    for window in ("7d", "24h"):
        page.select_option("#range", window)
        page.wait_for_function("(w) => { const d = document.querySelector('#chart-velocity')?.dataset;"
                               " return d?.xTicks !== undefined && (w === '7d' ? d.xMax - d.xMin > 2 * 86400"
                               " : d.xMax - d.xMin < 2 * 86400); }", arg=window)
        ticks = page.locator("#chart-velocity").get_attribute("data-x-ticks").split("|")
        assert ticks and all(label.match(t) for t in ticks), (window, ticks)
        assert not [t for t in ticks if re.search(r"am|pm|/", t)], ticks
        assert any(re.match(r"\d{4}-\d\d-\d\d", t.split("\n")[-1]) for t in ticks), ticks  # the year once
    shot(page, "unit-time-axis-24h")
