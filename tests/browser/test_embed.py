"""The embed on a third-party origin (examples/embed), and the service that verifies session JWTs
(examples/embed/service.py), in a real browser."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.helpers import Member, Topology, flask_cli, sign_in
from tests.browser.servers import (
    EMBED_DIR,
    NextSite,
    StaticSite,
    WhoamiService,
    start_or_fail,
)
from tests.fakes import FakeGoogle, FakeUser
from tests.live import LiveServer

pytestmark = pytest.mark.browser
Shoot = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def embed_origin() -> Iterator[StaticSite]:
    """examples/embed as static files on an origin of its own (another site than the chat's)."""
    origin = StaticSite(EMBED_DIR).start()
    yield origin
    origin.stop()


@pytest.fixture(scope="module")
def embed_client(idp: LiveServer, embed_origin: StaticSite) -> str:
    """The embed, registered as a public client (PKCE, no secret) with the chat scope."""
    created = flask_cli(
        idp,
        "clients",
        "create",
        "--name",
        "Chat embed",
        "--public",
        "--redirect-uri",
        f"{embed_origin.url}/callback.html",
        "--scope",
        "openid",
        "--scope",
        "profile",
        "--scope",
        "chat",
        "--first-party",
    )
    assert created["type"] == "public", created
    assert created["client_secret"] is None, created
    return str(created["client_id"])


@pytest.fixture(scope="module")
def whoami(
    idp: LiveServer, topology: Topology, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WhoamiService]:
    """service.py, verifying session JWTs of the site; it reaches the JWKS on idp directly."""
    service = WhoamiService(
        issuer=topology.site,
        jwks_url=f"{topology.idp_url}/.well-known/jwks.json",
        allow_origin=topology.site,
        log_path=tmp_path_factory.mktemp("whoami") / "service.log",
    )
    yield start_or_fail(service)
    service.stop()


def test_the_embed_signs_in_through_a_popup_and_shows_the_user(
    page: Page,
    context: BrowserContext,
    site: NextSite,
    idp: LiveServer,
    topology: Topology,
    fake_google: FakeGoogle,
    ada: Member,
    embed_origin: StaticSite,
    embed_client: str,
    shoot: Shoot,
) -> None:
    fake_google.user = ada.upstream
    query = urlencode({"issuer": topology.site, "client_id": embed_client, "provider": "google"})
    page.goto(f"{embed_origin.url}/index.html?{query}")
    expect(page.locator("#signed-out")).to_be_visible()
    button = page.locator("#sign-in")
    expect(button).to_be_visible()

    with page.expect_popup() as opened:
        button.click()
    popup = opened.value
    allow = popup.locator("#allow")  # provider=google: straight to Google's consent page
    expect(allow).to_be_visible()
    assert popup.url.startswith(fake_google.base_url), popup.url
    allow.click()

    name = page.locator("#user-name")
    expect(name).to_have_text(ada.name)
    expect(name).to_have_css("color", ada.name_color_rgb)
    expect(page.locator("#badges [data-badge='founder']")).to_have_text(ada.badge_label)
    expect(page.locator("#flair")).to_have_text(ada.flair)
    kid = page.locator("#verified").get_attribute("data-kid")
    published = requests.get(f"{topology.idp_url}/.well-known/jwks.json", timeout=10).json()
    assert kid in [key["kid"] for key in published["keys"]]
    if not popup.is_closed():
        popup.wait_for_event("close")  # callback.html closes the popup
    shoot(page, "e-embed-signed-in")

    # The popup went through the site's origin, so Ada is now signed in there too.
    on_site = context.new_page()
    on_site.goto(f"{topology.site}/")
    expect(on_site.locator("#user-name")).to_have_text(ada.name)


def test_cancelling_in_the_popup_tells_the_embed(
    page: Page,
    site: NextSite,
    topology: Topology,
    fake_google: FakeGoogle,
    embed_origin: StaticSite,
    embed_client: str,
    shoot: Shoot,
) -> None:
    fake_google.user = FakeUser(sub="carol-1", email="carol@example.com", name="Carol Cancel")
    query = urlencode({"issuer": topology.site, "client_id": embed_client, "provider": "google"})
    page.goto(f"{embed_origin.url}/index.html?{query}")
    with page.expect_popup() as opened:
        page.locator("#sign-in").click()
    popup = opened.value
    popup.locator("#cancel").click()  # at Google: back to idp's provider chooser, with the error
    expect(popup.locator("#error")).to_contain_text("access_denied")
    popup.locator("#cancel").click()  # at the chooser: the embed gets error=access_denied

    expect(page.locator("#problem")).to_have_text("You cancelled the sign-in.")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#user-name")).to_have_count(0)
    shoot(page, "e-embed-cancelled")


def test_a_service_verifies_the_session_jwt_the_page_hands_it(
    page: Page,
    site: NextSite,
    topology: Topology,
    fake_google: FakeGoogle,
    ada: Member,
    whoami: WhoamiService,
) -> None:
    fake_google.user = ada.upstream
    fake_google.interactive = False
    page.goto(f"{topology.site}/")
    sign_in(page, fake_google)
    expect(page.locator("#user-name")).to_have_text(ada.name)

    calls: dict[str, Any] = page.evaluate(
        """async (service) => {
            const answer = await fetch("/api/auth/token", { credentials: "include" });
            const { token } = await answer.json();
            const call = async (headers) => {
                const response = await fetch(`${service}/whoami`, { headers });
                return { status: response.status, body: await response.json() };
            };
            const tampered = token.slice(0, -6) + (token.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
            return {
                valid: await call({ Authorization: `Bearer ${token}` }),
                again: await call({ Authorization: `Bearer ${token}` }),
                tampered: await call({ Authorization: `Bearer ${tampered}` }),
                missing: await call({}),
            };
        }""",
        whoami.url,
    )
    assert calls["valid"]["status"] == 200, calls
    assert calls["valid"]["body"]["sub"] == ada.id
    assert calls["valid"]["body"]["name"] == ada.name
    assert calls["again"]["status"] == 200, calls
    assert calls["tampered"]["status"] == 401, calls
    assert calls["missing"]["status"] == 401, calls


def _service_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("embed_service", EMBED_DIR / "service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Token:
    def __init__(self, kid: str) -> None:
        self.kid = kid

    def headers(self) -> dict[str, str]:
        return {"kid": self.kid}

    def set_kid(self, kid: str) -> None:
        self.kid = kid


def test_the_service_caches_the_key_set_as_long_as_cache_control_allows(
    idp: LiveServer, topology: Topology
) -> None:
    service = _service_module()
    response = requests.get(f"{topology.idp_url}/.well-known/jwks.json", timeout=10)
    assert response.headers["Cache-Control"] == "public, max-age=300"
    published = [key["kid"] for key in response.json()["keys"]]
    kid = published[0] if published else "no-key-yet"

    keys = service.RemoteKeySet(f"{topology.idp_url}/.well-known/jwks.json", cooldown=30)
    keys(_Token(kid))
    keys(_Token(kid))
    assert keys.fetches == 1  # within max-age: from the cache
    keys(_Token("unknown-kid"))
    assert keys.fetches == 1  # an unknown kid within the cooldown: no refetch
