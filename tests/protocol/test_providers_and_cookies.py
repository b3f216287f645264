"""Any OpenID Connect provider by configuration alone; cookie attributes per deployment."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, session

from tests.fakes import FakeGoogle
from tests.helpers import path_and_query, query_of, session_of, visit_provider


@pytest.fixture
def generic_app(make_app: Callable[..., Flask], google: FakeGoogle) -> Flask:
    return make_app(
        IDP_OIDC_PROVIDERS="acme",
        IDP_OIDC_ACME_ISSUER=google.issuer,
        IDP_OIDC_ACME_CLIENT_ID=google.client_id,
        IDP_OIDC_ACME_CLIENT_SECRET=google.client_secret,
        IDP_OIDC_ACME_SCOPES="openid email",
        IDP_OIDC_ACME_AUTH_METHOD="client_secret_post",
        IDP_OIDC_ACME_NAME="Acme",
    )


def test_a_provider_added_by_configuration_alone_signs_users_in(
    generic_app: Flask, google: FakeGoogle
) -> None:
    client = generic_app.test_client()
    started = client.post(
        "/api/auth/sign-in/social",
        json={"provider": "acme", "callbackURL": "/chat"},
        headers={"Origin": "http://localhost"},
    )
    url = started.get_json()["url"]
    params = query_of(url)
    assert params["scope"] == "openid email"
    assert params["code_challenge_method"] == "S256"
    back = visit_provider(url)
    assert back.startswith("http://localhost/api/auth/callback/acme?")
    answer = client.get(path_and_query(back))
    assert answer.headers["Location"] == "/chat"
    assert google.token_requests[-1].used_post_auth
    assert session_of(client)["user"]["email"] == google.user.email
    accounts = client.get("/api/auth/list-accounts").get_json()
    assert [a["providerId"] for a in accounts] == ["acme"]


def _sign_in_at(app: Flask, base: str) -> list[str]:
    client = app.test_client()
    started = client.post(
        "/api/auth/sign-in/social",
        json={"provider": "google"},
        headers={"Origin": base},
        base_url=base,
    )
    back = visit_provider(started.get_json()["url"])
    assert back.startswith(f"{base}/api/auth/callback/google?")
    answer = client.get(path_and_query(back), base_url=base)
    assert answer.status_code == 302
    return [*started.headers.getlist("Set-Cookie"), *answer.headers.getlist("Set-Cookie")]


@pytest.mark.parametrize("env_overrides", [{"IDP_BASE_URL": "https://localhost"}])
def test_on_https_every_cookie_is_secure_and_prefixed(app: Flask, google: FakeGoogle) -> None:
    cookies = _sign_in_at(app, "https://localhost")
    names = {c.split("=", 1)[0] for c in cookies}
    assert names == {"__Secure-better-auth.state", "__Secure-better-auth.session_token"}
    assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)


@pytest.mark.parametrize(
    "env_overrides",
    [{"IDP_BASE_URL": "http://auth.chat.localhost", "IDP_COOKIE_DOMAIN": "chat.localhost"}],
)
def test_a_cookie_domain_shares_the_session_across_subdomains(
    app: Flask, google: FakeGoogle
) -> None:
    cookies = _sign_in_at(app, "http://auth.chat.localhost")
    session_cookie = next(c for c in cookies if c.startswith("better-auth.session_token="))
    assert "Domain=chat.localhost" in session_cookie


def test_flask_own_cookie_session_is_off(app: Flask) -> None:
    """idp's sessions are its own: a ``session`` cookie is never read or set, and code that
    reached for ``flask.session`` would fail instead of storing data in a client-side cookie."""
    client = app.test_client()
    client.set_cookie("session", "eyJhIjoxfQ.forged.signature")
    answer = client.get("/api/auth/ok")
    assert answer.status_code == 200
    assert not any(h.startswith("session=") for h in answer.headers.getlist("Set-Cookie"))
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        session["user"] = "someone"
