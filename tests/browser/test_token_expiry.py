"""A token that expires (or is revoked) while someone is typing: a service agent writing a complaint
during a customer's call, an engineer writing a ticket's root cause. The page went to the login page at
once, at the stream's end or at the click on Register, and what was typed was lost. Now a page with
something typed stays, says at its top that the token was refused and why, and takes a new token there;
saving again then works. (A page with nothing typed still goes to the login page and back:
test_login_and_roles.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.conftest import expect
from tests.browser.test_dashboard import login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SAID = "Customer says the pump screams since the night shift"


def _token(ctx, name: str) -> str:
    from api.tokens import create_token

    with ctx.session_factory.begin() as s:
        _, secret = create_token(session=s, name=name, role="service")
    return secret


def _expire(ctx, name: str) -> None:
    from api.models import ApiToken
    from foreshock.db import utcnow

    with ctx.session_factory.begin() as s:
        s.query(ApiToken).filter_by(name=name).one().expires = utcnow() - timedelta(seconds=1)


def test_a_complaint_being_typed_survives_its_token_expiring(page, served):
    base, tokens, world, ctx = served
    login(page, base, _token(ctx, "t-call-ends"))
    page.goto(f"{base}/ui/complaints")
    expect(page.locator("#live")).to_have_text("● live")
    page.fill("#c-contact_phone", "+49 421 555 0199")
    page.fill("#c-device_id", world.failing)
    page.fill("#c-description", SAID)
    _expire(ctx, "t-call-ends")
    page.click("#c-submit")

    banner = page.locator("#relogin")
    expect(banner).to_contain_text("token 't-call-ends' expired at")
    expect(banner).to_contain_text("What you typed is still on this page")
    assert page.url == f"{base}/ui/complaints"
    expect(page.locator("#c-description")).to_have_value(SAID)

    page.fill("#relogin-token", "fs_00000000_" + "x" * 43)  # a wrong token is said, the banner stays
    page.click("#relogin-button")
    expect(page.locator("#relogin-error")).to_contain_text("Login failed: invalid or revoked token")
    page.fill("#relogin-token", tokens["service"])
    page.click("#relogin-button")
    expect(banner).to_have_count(0)
    expect(page.locator("header .who")).to_contain_text("t-service (service)")
    page.click("#c-submit")
    expect(page.locator("#c-ok")).to_contain_text(world.ticket)
    expect(page.locator("#live")).to_have_text("● live")  # the stream is open again, with the new token
    assert [e for e in page.js_errors if "status of 401" not in e] == [], page.js_errors


def test_a_comment_being_typed_survives_the_stream_ending_with_its_token(page, served):
    """Nothing clicked: the stream ends with the token and the page used to leave at once."""
    base, tokens, world, ctx = served
    login(page, base, _token(ctx, "t-night"))
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    expect(page.locator("#live")).to_have_text("● live")
    page.fill("#comment-form input[name=text]", "bearing ordered, fitter booked for")
    _expire(ctx, "t-night")
    # the stream sees the expiry at its next heartbeat or event: a colleague's comment is an event
    import httpx

    httpx.post(f"{base}/api/v1/tickets/{world.ticket}/comments", json={"text": "customer called again"},
               headers={"Authorization": f"Bearer {tokens['service']}"}).raise_for_status()
    expect(page.locator("#relogin")).to_contain_text("token 't-night' expired at")
    expect(page.locator("#live")).to_have_text("○ logged out")
    expect(page.locator("#comment-form input[name=text]")).to_have_value("bearing ordered, fitter booked for")
    page.fill("#relogin-token", tokens["service"])
    page.press("#relogin-token", "Enter")
    expect(page.locator("#relogin")).to_have_count(0)
    # the keyboard is back where it was
    expect(page.locator("#comment-form input[name=text]")).to_be_focused()
    expect(page.locator("#live")).to_have_text("● live")
    page.fill("#comment-form input[name=text]", "bearing ordered, fitter booked for Monday")
    page.click("#comment-form button")
    expect(page.locator("#comments li").last).to_contain_text(
        "t-service: bearing ordered, fitter booked for Monday")
    assert [e for e in page.js_errors if "status of 401" not in e] == [], page.js_errors


def test_an_open_ticket_with_nothing_typed_goes_to_the_login_and_back(page, served):
    """The panel's choices as drawn (the feedback's first finding, the 8D discipline offered) are not
    something typed: the page goes to the login page and back as any other."""
    base, tokens, world, ctx = served
    login(page, base, _token(ctx, "t-idle"))
    page.goto(f"{base}/ui/tickets#{world.ticket}")
    expect(page.locator("#feedback-form")).to_be_visible()
    _expire(ctx, "t-idle")
    page.click("#close-detail")
    page.click(f"#{world.ticket} a.num")  # asks for the ticket again: refused
    page.wait_for_url("**/ui/login?next=%2Fui%2Ftickets%23" + world.ticket)
    page.fill("#token", tokens["service"])
    page.click("#login-button")
    expect(page.locator("#ticket-detail h2")).to_contain_text(world.ticket)
