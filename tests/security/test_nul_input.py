"""A NUL character, wherever a request can carry one, is the client's error and never a 500.

PostgreSQL refuses a NUL in a text parameter with an error, not a miss (SQLite takes it), so
these matter most in the PostgreSQL pass of the suite: each of them answered 500 there before
the inputs were checked (client ids in `idp/oidc/store.py`, JSON strings in `idp/api/body.py`,
authorization parameters in `idp/oidc/views.py`)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.fakes import FakeGoogle
from tests.helpers import ORIGIN, query_of, signed_in
from tests.oidc_helpers import REDIRECT_URI, register

NUL = "a\x00b"
NUL_BASIC = {"Authorization": "Basic " + base64.b64encode(b"a\x00b:secret").decode()}

Request = Callable[[FlaskClient], TestResponse]
SIGNED_OUT: dict[str, tuple[Request, int]] = {
    "token, client_secret_post": (
        lambda c: c.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": NUL, "client_secret": "x"},
        ),
        400,
    ),
    "token, client_secret_basic": (
        lambda c: c.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, headers=NUL_BASIC
        ),
        401,
    ),
    "token, a public client": (
        lambda c: c.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "client_id": NUL, "code": "x"},
        ),
        400,
    ),
    "authorize, the client": (
        lambda c: c.get(f"/oauth2/authorize?client_id=a%00b&redirect_uri={REDIRECT_URI}"),
        400,
    ),
    "revoke": (lambda c: c.post("/oauth2/revoke", data={"token": NUL, "client_id": NUL}), 400),
    "introspect": (
        lambda c: c.post("/oauth2/introspect", data={"token": NUL}, headers=NUL_BASIC),
        401,
    ),
    "logout, the client": (lambda c: c.get("/oauth2/logout?client_id=a%00b"), 200),
    "userinfo": (
        lambda c: c.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {NUL}"}),
        401,
    ),
    "sign-in": (
        lambda c: c.post(
            "/api/auth/sign-in/social",
            json={"provider": "google", "callbackURL": NUL},
            headers=ORIGIN,
        ),
        403,  # INVALID_CALLBACK_URL, as Better Auth answers any refused target
    ),
}
SIGNED_IN: dict[str, tuple[Request, int]] = {
    "revoke-session": (
        lambda c: c.post("/api/auth/revoke-session", json={"token": NUL}, headers=ORIGIN),
        400,
    ),
    "update-user": (
        lambda c: c.post("/api/auth/update-user", json={"name": NUL}, headers=ORIGIN),
        400,
    ),
}


@pytest.mark.parametrize("name", list(SIGNED_OUT))
def test_a_nul_is_refused_without_a_signed_in_user(client: FlaskClient, name: str) -> None:
    send, status = SIGNED_OUT[name]
    assert send(client).status_code == status


@pytest.mark.parametrize("name", list(SIGNED_IN))
def test_a_nul_is_refused_from_a_signed_in_user(app: Flask, google: FakeGoogle, name: str) -> None:
    send, status = SIGNED_IN[name]
    answer = send(signed_in(app))
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert "NUL" in answer.get_json()["message"]


def test_an_authorization_parameter_with_a_nul_goes_back_as_invalid_request(
    app: Flask, google: FakeGoogle
) -> None:
    client = register(app)
    browser = signed_in(app)
    answer = browser.get(
        f"/oauth2/authorize?client_id={client.client_id}&redirect_uri={REDIRECT_URI}"
        "&response_type=code&scope=openid&state=s&nonce=a%00b"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
    assert answer.status_code == 302
    back = query_of(answer.headers["Location"])
    assert back["error"] == "invalid_request"
    assert back["state"] == "s"
