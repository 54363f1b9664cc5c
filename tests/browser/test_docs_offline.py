"""``/docs`` on a plant network with no way out: Chromium may reach this server only, and Swagger UI
still lists the operations, with no script or policy error. (It loaded its JS and CSS from
cdn.jsdelivr.net and was a blank page offline.)"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import expect, opened_page

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_docs_render_the_operations_with_the_internet_blocked(browser, served):
    base, _, _, _ = served
    here = urlsplit(base).netloc
    blocked: list[str] = []

    def only_this_server(route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == here or url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    with opened_page(browser) as page:
        page.route("**/*", only_this_server)
        failed: list[str] = []
        page.on("requestfailed", lambda req: failed.append(f"{req.url}: {req.failure}"))
        page.goto(f"{base}/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/events")).to_have_count(1)
        expect(page.locator(".info .title")).to_contain_text("Foreshock API")
        # open one operation: its parameters render (the React app is alive, not a static shell)
        page.locator(".opblock-summary-path", has_text="/api/v1/events").click()
        expect(page.locator(".opblock.is-open .parameters-container")).to_contain_text("heartbeat_s")
        assert blocked == [], f"/docs asked for other sites: {blocked}"
        assert failed == [], failed
        assert page.js_errors == [], page.js_errors
