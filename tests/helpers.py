"""Helpers that act as a browser would: start a sign-in, visit the provider, return."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from idp.models import db

BASE_URL = "http://localhost"
TRUSTED_ORIGIN = "http://app.localhost:3000"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
KEY_ENCRYPTION_KEY = "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM"  # 32 bytes, base64url
ORIGIN = {"Origin": BASE_URL}
SESSION_COOKIE = "better-auth.session_token"
STATE_COOKIE = "better-auth.state"


def row_count(app: Flask, model: Any) -> int:
    """How many rows ``model``'s table holds."""
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def start_sign_in(client: FlaskClient, provider: str = "google", **body: Any) -> str:
    """POST /sign-in/social as the Better Auth client does; returns the provider URL."""
    response = client.post(
        "/api/auth/sign-in/social", json={"provider": provider, **body}, headers=ORIGIN
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["redirect"] is True
    return str(data["url"])


def visit_provider(url: str) -> str:
    """Follow the provider's authorize URL as a browser would; returns where it sends us back."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def sign_in(client: FlaskClient, provider: str = "google", **body: Any) -> TestResponse:
    """A whole sign-in; returns the callback's response (a redirect)."""
    back = visit_provider(start_sign_in(client, provider, **body))
    assert back.startswith(f"{BASE_URL}/api/auth/callback/{provider}"), back
    return client.get(path_and_query(back))


def signed_in(app: Flask, provider: str = "google") -> FlaskClient:
    """A test client that signed in through ``provider`` (its fake must be running)."""
    browser = app.test_client()
    response = sign_in(browser, provider)
    assert response.status_code == 302
    assert "error=" not in response.headers["Location"], response.headers["Location"]
    return browser


def session_of(client: FlaskClient) -> Any:
    response = client.get("/api/auth/get-session")
    assert response.status_code == 200
    return response.get_json()


def cookie_value(client: FlaskClient, name: str = SESSION_COOKIE) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None
