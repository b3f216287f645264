"""The OpenID provider's main journey, end to end through the Flask test client."""

from __future__ import annotations

from flask import Flask

from tests.fakes import FakeGoogle
from tests.helpers import BASE_URL, query_of, sign_in
from tests.oidc_helpers import (
    POST_LOGOUT_URI,
    AuthRequest,
    authorize,
    code_from,
    id_token_claims,
    redeem,
    register,
    token_request,
)


def test_code_flow_refresh_userinfo_revoke_introspect_and_logout(
    app: Flask, google: FakeGoogle
) -> None:
    client = register(app)
    browser = app.test_client()
    sign_in(browser, "google")
    request = AuthRequest(client, scope="openid profile email offline_access")

    code = code_from(authorize(browser, request), request)
    tokens = redeem(browser, request, code)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    assert tokens.headers["Cache-Control"] == "no-store"
    body = tokens.get_json()
    claims = id_token_claims(browser, body["id_token"])
    me = browser.get("/api/auth/get-session").get_json()
    assert claims["iss"] == BASE_URL
    assert claims["aud"] == client.client_id
    assert claims["sub"] == me["user"]["id"]
    assert claims["sid"] == me["session"]["id"]
    assert claims["nonce"] == request.nonce
    assert claims["email"] == google.user.email

    info = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert info.status_code == 200, info.get_data(as_text=True)
    assert info.get_json()["sub"] == claims["sub"]

    refreshed = token_request(
        browser, client, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    new = refreshed.get_json()
    assert new["refresh_token"] != body["refresh_token"]

    looked = browser.post(
        "/oauth2/introspect",
        data={"token": new["access_token"]},
        headers=_basic(client.client_id, client.client_secret),
    )
    assert looked.get_json()["active"] is True
    revoked = browser.post(
        "/oauth2/revoke",
        data={"token": new["refresh_token"], "token_type_hint": "refresh_token"},
        headers=_basic(client.client_id, client.client_secret),
    )
    assert revoked.status_code == 200
    looked = browser.post(
        "/oauth2/introspect",
        data={"token": new["access_token"]},
        headers=_basic(client.client_id, client.client_secret),
    )
    assert looked.get_json() == {"active": False}

    out = browser.get(
        "/oauth2/logout",
        query_string={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye",
        },
    )
    assert out.status_code == 302, out.get_data(as_text=True)
    assert out.headers["Location"] == f"{POST_LOGOUT_URI}?state=bye"
    again = authorize(browser, AuthRequest(client, extra={"prompt": "none"}))
    assert query_of(again.headers["Location"])["error"] == "login_required"


def _basic(client_id: str, secret: str | None) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
