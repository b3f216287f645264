"""A whole journey through a real gunicorn server, as a browser makes it."""

from __future__ import annotations

import pytest
import requests

from tests.fakes import FakeGoogle
from tests.live import LiveServer

pytestmark = pytest.mark.e2e


def _browser(origin: str) -> requests.Session:
    browser = requests.Session()
    browser.headers["Origin"] = origin
    return browser


def _sign_in(browser: requests.Session, server: LiveServer, callback: str = "/welcome") -> None:
    started = browser.post(
        f"{server.url}/api/auth/sign-in/social",
        json={"provider": "google", "callbackURL": callback},
    )
    assert started.status_code == 200, started.text
    at_provider = browser.get(started.json()["url"], allow_redirects=False)
    assert at_provider.status_code == 302
    back = browser.get(at_provider.headers["Location"], allow_redirects=False)
    assert back.status_code == 302, back.text
    assert back.headers["Location"] == callback


def test_sign_in_list_revoke_and_sign_out_through_gunicorn(
    live_server: LiveServer, live_google: FakeGoogle
) -> None:
    phone, laptop = _browser(live_server.url), _browser(live_server.url)
    _sign_in(phone, live_server)
    _sign_in(laptop, live_server)

    me = laptop.get(f"{live_server.url}/api/auth/get-session")
    assert me.headers["Cache-Control"] == "no-store"
    assert me.json()["user"]["email"] == live_google.user.email
    sessions = laptop.get(f"{live_server.url}/api/auth/list-sessions").json()
    assert len(sessions) == 2

    revoked = laptop.post(f"{live_server.url}/api/auth/revoke-other-sessions", json={})
    assert revoked.json() == {"status": True}
    assert phone.get(f"{live_server.url}/api/auth/get-session").json() is None

    # Metrics are summed over every gunicorn worker (multiprocess mode); loopback may read them.
    scraped = requests.get(f"{live_server.url}/metrics", timeout=10).text
    assert 'idp_signins_total{outcome="ok",provider="google"} 2.0' in scraped

    out = laptop.post(f"{live_server.url}/api/auth/sign-out", json={})
    assert out.json() == {"success": True}
    assert laptop.get(f"{live_server.url}/api/auth/get-session").json() is None
