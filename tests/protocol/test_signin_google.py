"""Sign-in with Google through the fake, end to end through the Flask test client."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.fakes import FakeGoogle
from tests.helpers import BASE_URL, query_of, session_of, sign_in, start_sign_in


def test_sign_in_with_google_redirects_back_signed_in(
    client: FlaskClient, google: FakeGoogle
) -> None:
    response = sign_in(client, "google", callbackURL="/dashboard")

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    data = session_of(client)
    assert data["user"]["email"] == "ada@example.com"
    assert data["user"]["emailVerified"] is True
    assert data["user"]["name"] == "Ada Lovelace"
    assert data["session"]["userId"] == data["user"]["id"]


def test_authorization_request_carries_state_nonce_and_pkce_s256(
    client: FlaskClient, google: FakeGoogle
) -> None:
    url = start_sign_in(client, "google")
    params = query_of(url)

    assert params["redirect_uri"] == f"{BASE_URL}/api/auth/callback/google"
    assert len(params["state"]) >= 43
    assert len(params["nonce"]) >= 43
    assert params["code_challenge_method"] == "S256"
    assert params["response_type"] == "code"
    assert "openid" in params["scope"].split()
