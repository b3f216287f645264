"""The Next.js example in a real browser: signing in through the providers' consent pages, a
cancelled sign-in, signing out, and a second subdomain that shares the session."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.helpers import (
    Member,
    Topology,
    flask_cli,
    get_session,
    session_cookies,
    sign_in,
)
from tests.browser.servers import NextSite
from tests.fakes import FakeGoogle, FakeTwitch, FakeUser
from tests.live import LiveServer

pytestmark = pytest.mark.browser
Shoot = Callable[[Page, str], Path]


def test_google_sign_in_comes_back_to_the_page_signed_in_with_the_presentation(
    page: Page,
    context: BrowserContext,
    site: NextSite,
    topology: Topology,
    fake_google: FakeGoogle,
    ada: Member,
    shoot: Shoot,
) -> None:
    fake_google.user = ada.upstream
    page.goto(f"{topology.site}/rooms/general")
    sign_in(page, fake_google)  # the consent page of the fake Google, then "Allow"

    name = page.locator("#user-name")
    expect(name).to_have_text(ada.name)
    assert page.url == f"{topology.site}/rooms/general"
    expect(page.locator("#room")).to_have_text("#general")
    expect(name).to_have_css("color", ada.name_color_rgb)
    badge = page.locator("#badges [data-badge='founder']")
    expect(badge).to_have_text(ada.badge_label)
    expect(badge.locator("img")).to_be_visible()
    expect(page.locator("#flair")).to_have_text(ada.flair)
    expect(page.locator("#flair")).to_have_css("color", "rgb(14, 116, 144)")

    # One session cookie, HttpOnly, on the parent domain; the page's script never sees it.
    [cookie] = session_cookies(context)
    assert cookie["domain"] == ".idp.localhost"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert "session_token" not in page.evaluate("document.cookie")

    # Her sessions: this browser, and the one she signed in with before. Revoke another one.
    sessions = page.locator("#sessions li")
    expect(sessions.filter(has_text="This browser")).to_have_count(1)
    before = sessions.count()
    assert before >= 2
    sessions.filter(has_not_text="This browser").first.get_by_role("button").click()
    expect(sessions).to_have_count(before - 1)
    expect(sessions.filter(has_text="This browser")).to_have_count(1)
    expect(name).to_have_text(ada.name)
    shoot(page, "a-google-signed-in")


def test_cancelling_at_the_provider_shows_a_readable_error_and_signs_nobody_in(
    page: Page,
    context: BrowserContext,
    site: NextSite,
    idp: LiveServer,
    topology: Topology,
    fake_google: FakeGoogle,
    shoot: Shoot,
) -> None:
    fake_google.user = FakeUser(sub="bob-1", email="bob@example.com", name="Bob Cancel")
    page.goto(f"{topology.site}/")
    sign_in(page, fake_google, decision="cancel")

    expect(page.locator("#error-message")).to_have_text(
        re.compile(r"^You cancelled the sign-in at the provider\.")
    )
    expect(page.locator("#error-code")).to_have_text("access_denied")
    assert page.url == f"{topology.site}/error?error=access_denied"
    assert session_cookies(context) == []
    assert get_session(page) is None
    assert flask_cli(idp, "users", "list", "--search", "bob@example.com") == []
    shoot(page, "b-cancelled-at-google")

    page.locator("#back").click()
    expect(page.locator("#sign-in-google")).to_be_visible()
    expect(page.locator("#user-name")).to_have_count(0)


def test_sign_out_then_reload_stays_signed_out(
    page: Page,
    context: BrowserContext,
    site: NextSite,
    topology: Topology,
    fake_twitch: FakeTwitch,
    shoot: Shoot,
) -> None:
    fake_twitch.user = FakeUser(
        sub="90210", email="grace@example.com", email_verified=True, preferred_username="grace_h"
    )
    page.goto(f"{topology.site}/")
    sign_in(page, fake_twitch)
    expect(page.locator("#user-name")).to_have_text("grace_h")
    assert page.url == f"{topology.site}/"
    assert len(session_cookies(context)) == 1

    page.locator("#sign-out").click()
    expect(page.locator("#sign-in-twitch")).to_be_visible()
    assert session_cookies(context) == []

    page.reload()
    expect(page.locator("#sign-in-twitch")).to_be_visible()
    expect(page.locator("#user-name")).to_have_count(0)
    assert get_session(page) is None
    shoot(page, "c-signed-out-after-reload")


def test_a_second_subdomain_shares_the_session_through_the_cookie_domain(
    context: BrowserContext,
    site: NextSite,
    topology: Topology,
    fake_google: FakeGoogle,
    shoot: Shoot,
) -> None:
    fake_google.user = FakeUser(sub="linus-1", email="linus@example.com", name="Linus Sub")
    app = context.new_page()
    app.goto(f"{topology.site}/")
    sign_in(app, fake_google)
    expect(app.locator("#user-name")).to_have_text("Linus Sub")

    chat = context.new_page()
    chat.goto(f"{topology.chat}/rooms/random")
    expect(chat.locator("#user-name")).to_have_text("Linus Sub")
    expect(chat.locator("#sessions li", has_text="This browser")).to_have_count(1)
    on_chat, on_app = get_session(chat), get_session(app)
    assert on_chat["session"]["id"] == on_app["session"]["id"]
    shoot(chat, "d-second-subdomain")

    # One cookie on the parent domain: signing out on one subdomain signs out on both.
    chat.locator("#sign-out").click()
    expect(chat.locator("#sign-in-google")).to_be_visible()
    assert session_cookies(context) == []
    app.reload()
    expect(app.locator("#sign-in-google")).to_be_visible()
