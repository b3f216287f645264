"""Sign-in with Twitch through the fake: OpenID Connect with Twitch's quirks.

Twitch authenticates clients with ``client_secret_post`` only, implements no PKCE, releases
email and picture only when asked through the ``claims`` parameter, answers token errors as
``{"status", "message"}`` and sends ``scope`` as a JSON array.
"""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from idp.models import Account, Session, User, db
from tests.fakes import FakeTwitch, Fault
from tests.helpers import BASE_URL, cookie_value, query_of, session_of, sign_in, start_sign_in


def _rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("users", User), ("accounts", Account), ("sessions", Session))
        }


def test_sign_in_with_twitch_redirects_back_signed_in(
    app: Flask, client: FlaskClient, twitch: FakeTwitch
) -> None:
    response = sign_in(client, "twitch", callbackURL="/dashboard")

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert cookie_value(client) is not None
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 1}


def test_twitch_token_request_authenticates_with_client_secret_post_not_basic(
    client: FlaskClient, twitch: FakeTwitch
) -> None:
    sign_in(client, "twitch")

    request = twitch.token_requests[-1]
    assert request.used_post_auth
    assert not request.used_basic_auth
    assert request.form["client_id"] == "twitch-client"
    assert request.form["client_secret"] == "twitch-secret"
    assert request.form["grant_type"] == "authorization_code"
    assert request.form["redirect_uri"] == f"{BASE_URL}/api/auth/callback/twitch"


def test_twitch_sign_in_sends_no_pkce(client: FlaskClient, twitch: FakeTwitch) -> None:
    sign_in(client, "twitch")

    authorize = twitch.authorize_requests[-1]
    assert "code_challenge" not in authorize
    assert "code_challenge_method" not in authorize
    assert "code_verifier" not in twitch.token_requests[-1].form


def test_twitch_authorization_request_asks_for_the_voluntary_claims_in_the_id_token(
    client: FlaskClient, twitch: FakeTwitch
) -> None:
    params = query_of(start_sign_in(client, "twitch"))

    assert json.loads(params["claims"]) == {
        "id_token": {
            "email": None,
            "email_verified": None,
            "picture": None,
            "preferred_username": None,
        }
    }
    assert params["redirect_uri"] == f"{BASE_URL}/api/auth/callback/twitch"
    assert len(params["nonce"]) >= 43


def test_twitch_scope_includes_openid_and_user_read_email(
    client: FlaskClient, twitch: FakeTwitch
) -> None:
    scopes = query_of(start_sign_in(client, "twitch"))["scope"].split()

    assert "openid" in scopes
    assert "user:read:email" in scopes


def test_twitch_user_gets_the_email_and_the_login_name_when_there_is_no_name(
    client: FlaskClient, twitch: FakeTwitch
) -> None:
    sign_in(client, "twitch")

    user = session_of(client)["user"]
    assert user["email"] == "ada@example.com"
    # Twitch is not trusted for emails by default, so its "verified" does not count here.
    assert user["emailVerified"] is False
    assert user["name"] == "ada_streams"
    assert user["image"] == "https://images.example/ada-twitch.png"


def test_twitch_status_message_error_for_a_bad_code_redirects_with_invalid_code(
    app: Flask, client: FlaskClient, twitch: FakeTwitch
) -> None:
    twitch.fail(Fault.INVALID_GRANT)  # 400 {"status": 400, "message": "Invalid authorization code"}

    response = sign_in(client, "twitch", callbackURL="/dashboard", errorCallbackURL="/oops")

    assert response.status_code == 302
    assert response.headers["Location"] == "/oops?error=invalid_code"
    assert cookie_value(client) is None
    assert _rows(app) == {"users": 0, "accounts": 0, "sessions": 0}


def test_twitch_scope_array_is_listed_as_a_list_of_strings(
    client: FlaskClient, twitch: FakeTwitch
) -> None:
    sign_in(client, "twitch")

    response = client.get("/api/auth/list-accounts")

    assert response.status_code == 200
    [account] = response.get_json()
    assert account["providerId"] == "twitch"
    assert account["accountId"] == "41414141"
    assert account["scopes"] == ["openid", "user:read:email"]


def test_twitch_denied_consent_redirects_with_access_denied(
    app: Flask, client: FlaskClient, twitch: FakeTwitch
) -> None:
    twitch.fail(Fault.ACCESS_DENIED)  # Twitch sends no iss parameter, even on errors

    response = sign_in(client, "twitch", callbackURL="/dashboard", errorCallbackURL="/oops")

    assert response.status_code == 302
    assert response.headers["Location"] == "/oops?error=access_denied"
    assert twitch.token_requests == []
    assert _rows(app) == {"users": 0, "accounts": 0, "sessions": 0}
