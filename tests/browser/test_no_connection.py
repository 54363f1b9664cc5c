"""A server that cannot be reached (down, a proxy in between, a phone that lost its signal): the login
button did nothing at all (the page's script failed, unseen), and a form on a page said only "Failed to
fetch". Both now say that the server gave no answer and what to do."""

from __future__ import annotations

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_login_says_when_the_server_cannot_be_reached(page, served):
    base, tokens, _, _ = served
    page.goto(f"{base}/ui/login")
    page.route("**/api/v1/me", lambda route: route.abort("internetdisconnected"))
    page.fill("#token", tokens["service"])
    page.click("#login-button")
    expect(page.locator("#login-error .error")).to_contain_text(
        "Login failed: the Foreshock server cannot be reached")
    expect(page.locator("#login-button")).to_be_enabled()
    page.unroute("**/api/v1/me")
    page.click("#login-button")  # the connection is back: the same click logs in
    page.wait_for_url(f"{base}/ui/")
    assert [e for e in page.js_errors if "ERR_INTERNET_DISCONNECTED" not in e] == [], page.js_errors


def test_a_comment_sent_without_a_connection_says_so_and_is_kept(page, served):
    base, tokens, world, _ = served
    login(page, base, tokens["service"])
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    page.route("**/api/v1/tickets/*/comments", lambda route: route.abort("internetdisconnected"))
    page.fill("#comment-form input[name=text]", "fitter on site at 9")
    page.click("#comment-form button")
    expect(page.locator("main > .error").first).to_contain_text(
        "no answer from the server (Failed to fetch): check the connection; "
        "reload the page to see whether this was saved")
    expect(page.locator("#comment-form input[name=text]")).to_have_value("fitter on site at 9")
    assert [e for e in page.js_errors if "ERR_INTERNET_DISCONNECTED" not in e] == [], page.js_errors


def test_a_page_opened_without_a_connection_says_so_and_tries_again(page, served):
    """The page stayed blank (its header and content are drawn after asking who is logged in), the reason
    only in the browser's console."""
    base, tokens, _, _ = served
    login(page, base, tokens["viewer"])
    page.route("**/api/v1/me", lambda route: route.abort("internetdisconnected"))
    page.goto(f"{base}/ui/alerts")
    expect(page.locator("#page-error")).to_contain_text(
        "This page could not be opened: no answer from the server (Failed to fetch): "
        "check the connection, then reload")
    page.unroute("**/api/v1/me")
    page.click("#page-error button:has-text('Try again')")
    expect(page.locator("#alerts tr").first).to_be_visible()
    expect(page.locator("#page-error")).to_have_count(0)


def test_the_fleet_table_loads_when_the_model_list_does_not(page, served):
    """The model filter's choices are asked for first: without an answer the fleet table stayed empty."""
    base, tokens, world, _ = served
    page.route("**/api/v1/models", lambda route: route.abort("internetdisconnected"))
    login(page, base, tokens["viewer"])
    expect(page.locator("main > .error").first).to_contain_text("no answer from the server")
    expect(page.locator(f"#units tr[data-unit='{world.failing}']")).to_be_visible()
