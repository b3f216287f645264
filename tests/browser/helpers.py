"""What the browser journeys do again and again: run ``flask`` against the server, sign in."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.fakes import FakeGoogle, FakeProvider, FakeUser
from tests.live import PROJECT_ROOT, LiveServer

SESSION_COOKIE = "better-auth.session_token"
COOKIE_DOMAIN = "idp.localhost"
TIMEOUT_MS = 45_000  # generous: a busy two-core machine runs gunicorn, Next.js and Chromium


@dataclass(frozen=True)
class Topology:
    """Where everything listens. The browser reaches idp only through the site's proxy."""

    idp_port: int
    site_port: int

    @property
    def idp_url(self) -> str:
        return f"http://127.0.0.1:{self.idp_port}"

    @property
    def site(self) -> str:
        """The Next.js example: IDP_BASE_URL."""
        return f"http://app.{COOKIE_DOMAIN}:{self.site_port}"

    @property
    def chat(self) -> str:
        """The same site under a second subdomain, in IDP_TRUSTED_ORIGINS."""
        return f"http://chat.{COOKIE_DOMAIN}:{self.site_port}"


@dataclass(frozen=True)
class Member:
    """A user who signed in before and was given a presentation by an admin."""

    upstream: FakeUser
    id: str
    name: str
    name_color_rgb: str  # as getComputedStyle reports it
    badge_label: str
    flair: str


def flask_cli(server: LiveServer, *args: str) -> Any:
    """``python -m flask <args> --json`` against the live server's database; its JSON answer."""
    command = [sys.executable, "-m", "flask", *args, "--json"]
    run = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"flask {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}"
    return json.loads(run.stdout)


def sign_in(page: Page, provider: FakeProvider, *, decision: str = "allow") -> None:
    """From a page of the site that is signed out: the provider's button, then its consent page
    (``provider.interactive``), where the user clicks ``#allow`` or ``#cancel``."""
    provider_id = "google" if isinstance(provider, FakeGoogle) else "twitch"
    page.locator(f"#sign-in-{provider_id}").click()
    if provider.interactive:
        consent = page.locator(f"#{decision}")
        expect(consent).to_be_visible()
        assert page.url.startswith(provider.base_url), page.url
        consent.click()


def session_cookies(context: BrowserContext) -> list[dict[str, Any]]:
    return [dict(c) for c in context.cookies() if c.get("name") == SESSION_COOKIE]


def get_session(page: Page) -> Any:
    """What the site's JavaScript learns from ``GET /api/auth/get-session`` (through the proxy)."""
    return page.evaluate(
        """async () => {
            const response = await fetch("/api/auth/get-session", { credentials: "include" });
            return response.json();
        }"""
    )
