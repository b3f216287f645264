"""CSRF (origin check), CORS, body parsing, unknown routes and security headers."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp.models import SignInState
from tests.fakes import FakeGoogle
from tests.helpers import (
    ORIGIN,
    STATE_COOKIE,
    TRUSTED_ORIGIN,
    row_count,
    session_of,
    signed_in,
)


def test_a_post_with_the_session_cookie_and_no_origin_is_refused(
    app: Flask, google: FakeGoogle
) -> None:
    client = signed_in(app)
    response = client.post("/api/auth/revoke-sessions", json={})
    assert response.status_code == 403
    assert response.get_json() == {
        "message": "Missing or null Origin",
        "code": "MISSING_OR_NULL_ORIGIN",
    }
    assert session_of(client) is not None


def test_a_post_from_an_untrusted_origin_is_refused_and_changes_nothing(
    app: Flask, google: FakeGoogle
) -> None:
    client = signed_in(app)
    response = client.post(
        "/api/auth/sign-out", json={}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert response.get_json() == {"message": "Invalid origin", "code": "INVALID_ORIGIN"}
    assert session_of(client) is not None


def test_a_null_origin_counts_as_missing(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    response = client.post("/api/auth/sign-out", json={}, headers={"Origin": "null"})
    assert response.get_json()["code"] == "MISSING_OR_NULL_ORIGIN"


def test_a_trusted_referer_stands_in_for_a_missing_origin(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    response = client.post(
        "/api/auth/sign-out", json={}, headers={"Referer": f"{TRUSTED_ORIGIN}/settings"}
    )
    assert response.get_json() == {"success": True}


def test_an_untrusted_origin_is_refused_even_without_cookies(
    client: FlaskClient, google: FakeGoogle
) -> None:
    response = client.post(
        "/api/auth/sign-in/social",
        json={"provider": "google"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert row_count(client.application, SignInState) == 0


@pytest.mark.parametrize("field", ["callbackURL", "errorCallbackURL", "newUserCallbackURL"])
@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "javascript:alert(1)"]
)
def test_an_untrusted_redirect_target_is_refused_before_anything_happens(
    client: FlaskClient, google: FakeGoogle, field: str, target: str
) -> None:
    response = client.post(
        "/api/auth/sign-in/social", json={"provider": "google", field: target}, headers=ORIGIN
    )
    assert response.status_code == 403
    codes = {
        "callbackURL": "INVALID_CALLBACK_URL",
        "errorCallbackURL": "INVALID_ERROR_CALLBACK_URL",
        "newUserCallbackURL": "INVALID_NEW_USER_CALLBACK_URL",
    }
    assert response.get_json()["code"] == codes[field]
    assert "Location" not in response.headers
    assert row_count(client.application, SignInState) == 0
    assert client.get_cookie(STATE_COOKIE) is None
    assert google.authorize_requests == []


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "BAD_REQUEST"),
        (
            {"data": "provider=google", "content_type": "application/x-www-form-urlencoded"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        ({"data": "provider=google", "content_type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"json": ["google"]}, 400, "VALIDATION_ERROR"),
        ({"json": {}}, 400, "VALIDATION_ERROR"),
        ({"json": {"provider": 7}}, 400, "VALIDATION_ERROR"),
        ({"json": {"provider": "google", "scopes": "email"}}, 400, "VALIDATION_ERROR"),
        ({"json": {"provider": "google", "disableRedirect": "yes"}}, 400, "VALIDATION_ERROR"),
        ({"json": {"provider": "nope"}}, 404, "PROVIDER_NOT_FOUND"),
        ({"json": {"provider": "google", "callbackURL": ["/"]}}, 400, "VALIDATION_ERROR"),
        (
            {"json": {"provider": "google", "idToken": {"token": "x"}}},
            400,
            "ID_TOKEN_NOT_SUPPORTED",
        ),
    ],
)
def test_bad_sign_in_requests_get_a_clear_error_and_store_nothing(
    client: FlaskClient, google: FakeGoogle, kwargs: dict[str, object], status: int, code: str
) -> None:
    response = client.post("/api/auth/sign-in/social", headers=ORIGIN, **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert row_count(client.application, SignInState) == 0


def test_an_oversized_body_is_refused_with_413(client: FlaskClient, google: FakeGoogle) -> None:
    response = client.post(
        "/api/auth/sign-in/social",
        data='{"provider":"google","pad":"' + "x" * 70_000 + '"}',
        content_type="application/json",
        headers=ORIGIN,
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == "PAYLOAD_TOO_LARGE"


def test_disable_redirect_is_echoed(client: FlaskClient, google: FakeGoogle) -> None:
    response = client.post(
        "/api/auth/sign-in/social",
        json={"provider": "google", "disableRedirect": True},
        headers=ORIGIN,
    )
    assert response.get_json()["redirect"] is False


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/auth/nope"),
        ("GET", "/api/auth/sign-in/social"),
        ("POST", "/api/auth/ok"),
        ("GET", "/api/auth/get-session/"),
    ],
)
def test_unknown_routes_and_wrong_methods_answer_404_as_better_auth_does(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 404
    assert response.get_json() == {"message": "Not found", "code": "NOT_FOUND"}


def test_ok_answers(client: FlaskClient) -> None:
    assert client.get("/api/auth/ok").get_json() == {"ok": True}


def test_cors_allows_credentials_for_a_trusted_origin_only(client: FlaskClient) -> None:
    trusted = client.options(
        "/api/auth/get-session",
        headers={"Origin": TRUSTED_ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert trusted.headers["Access-Control-Allow-Origin"] == TRUSTED_ORIGIN
    assert trusted.headers["Access-Control-Allow-Credentials"] == "true"
    untrusted = client.options(
        "/api/auth/get-session",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in untrusted.headers


def test_responses_carry_security_headers(client: FlaskClient) -> None:
    response = client.get("/api/auth/get-session")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("error", "shown"),
    [("access_denied", "access_denied"), ("<script>", "UNKNOWN"), ("", "UNKNOWN")],
)
def test_the_error_page_shows_a_safe_code(client: FlaskClient, error: str, shown: str) -> None:
    response = client.get("/api/auth/error", query_string={"error": error})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f'<span id="error-code">{shown}</span>' in page
    assert "<script>" not in page


@pytest.mark.parametrize("path", ["/api/auth/sign-in/social", "/api/auth/link-social"])
def test_scopes_must_be_scope_tokens(app: Flask, google: FakeGoogle, path: str) -> None:
    client = signed_in(app)
    response = client.post(
        path, json={"provider": "google", "scopes": ['email" onerror="x']}, headers=ORIGIN
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "VALIDATION_ERROR"


def test_link_social_refuses_an_id_token_like_sign_in(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    response = client.post(
        "/api/auth/link-social",
        json={"provider": "twitch", "idToken": {"token": "x"}},
        headers=ORIGIN,
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "ID_TOKEN_NOT_SUPPORTED"


def test_the_sign_in_path_keeps_the_popup_opener_and_other_pages_isolate(
    client: FlaskClient,
) -> None:
    chooser = client.get("/oauth2/sign-in?return_to=/oauth2/authorize%3Fclient_id%3Dx")
    assert chooser.headers["Cross-Origin-Opener-Policy"] == "unsafe-none"
    assert (
        client.get("/api/auth/get-session").headers["Cross-Origin-Opener-Policy"] == "same-origin"
    )
