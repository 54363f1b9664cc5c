"""The reports page's Download CSV waits for its answer: the button stayed as it was while the report was fetched
(over a plant's slow link, seconds), so a second click started a second download, and nothing said the first
was on its way. It now says "Preparing…" and takes no click until the file is saved or the download failed,
and a failure says what failed. The answers are held back by the test (Playwright's routing), not waited for.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_download_csv_is_disabled_while_it_fetches_and_says_why_it_failed(page, served):
    base, tokens, _, _ = served
    held = []
    # each request waits until the test answers it
    page.route("**/api/v1/reports/monthly.csv*", lambda route: held.append(route))
    login(page, base, tokens["viewer"])
    page.goto(f"{base}/ui/reports")
    page.locator("#monthly-sla tr[data-sla='all']").wait_for()
    month = page.input_value("#month")
    button = page.locator("#monthly-csv")

    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_text("Preparing…")
    button.dispatch_event("click")  # a second click while the first is on its way: nothing more is asked
    button.dispatch_event("click")
    page.wait_for_timeout(300)  # (a second request would be routed to the test by now)
    assert len(held) == 1, f"{len(held)} downloads started"
    with page.expect_download() as dl:
        held[0].continue_()
    assert dl.value.suggested_filename == f"foreshock-report-{month}.csv"
    expect(button).to_be_enabled()
    expect(button).to_have_text("Download CSV")

    # refused by the server: said with its reason, and the button can be used again
    button.click()
    expect(button).to_have_text("Preparing…")
    _wait_for(page, held, 2)
    held[1].fulfill(status=503, content_type="application/json",
                    body='{"detail": "the database is unavailable: connection refused"}')
    expect(page.locator(".error").first).to_have_text(
        f"Download CSV of {month} failed: the database is unavailable: connection refused")
    expect(button).to_be_enabled()
    expect(button).to_have_text("Download CSV")

    # no answer at all (the connection dropped)
    button.click()
    _wait_for(page, held, 3)
    held[2].abort("connectionreset")
    expect(page.locator(".error", has_text="no answer from the server")).to_have_count(1)
    expect(button).to_be_enabled()
    assert [e for e in page.js_errors if "503" not in e and "ERR_CONNECTION_RESET" not in e] == [], page.js_errors


def _wait_for(page, held: list, n: int) -> None:
    """Until the page has asked for the ``n``-th download (the route handler runs while Playwright waits)."""
    for _ in range(100):
        if len(held) >= n:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page asked for {len(held)} downloads, not {n}")
