"""get-session, list/revoke sessions, sign-out, update-user: shapes, codes, cookies, sliding."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.models import Session, db
from idp.security.secrets import token_hash
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeUser
from tests.helpers import (
    ORIGIN,
    SESSION_COOKIE,
    cookie_value,
    row_count,
    session_of,
    sign_in,
    signed_in,
)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DAY = 86400


def set_cookies(response: object) -> list[str]:
    return list(response.headers.getlist("Set-Cookie"))  # type: ignore[attr-defined]


def test_get_session_when_signed_out_is_null_and_not_cached(client: FlaskClient) -> None:
    response = client.get("/api/auth/get-session")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "null"
    assert response.headers["Cache-Control"] == "no-store"


def test_get_session_has_better_auths_shape_and_never_the_token(
    app: Flask, google: FakeGoogle
) -> None:
    client = signed_in(app)
    response = client.get("/api/auth/get-session")
    data = response.get_json()
    assert set(data) == {"session", "user"}
    assert set(data["session"]) == {
        "id",
        "token",
        "userId",
        "expiresAt",
        "createdAt",
        "updatedAt",
        "ipAddress",
        "userAgent",
    }
    assert set(data["user"]) >= {
        "id",
        "name",
        "email",
        "emailVerified",
        "image",
        "createdAt",
        "updatedAt",
    }
    for value in (*data["session"].values(), *data["user"].values()):
        if isinstance(value, str) and value[:4].isdigit():
            assert ISO.match(value), value
    token = cookie_value(client).rpartition(".")[0]  # type: ignore[union-attr]
    assert data["session"]["token"] == data["session"]["id"]
    assert token not in response.get_data(as_text=True)


def test_the_session_cookie_is_httponly_lax_and_holds_256_bits(
    app: Flask, google: FakeGoogle
) -> None:
    client = app.test_client()
    response = sign_in(client, "google")
    cookie = next(c for c in set_cookies(response) if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert f"Max-Age={7 * DAY}" in cookie
    assert "Secure" not in cookie  # plain http base URL in these tests
    token = cookie.split("=", 1)[1].split(";")[0].rpartition(".")[0]
    assert len(token) >= 43  # 32 random bytes, base64url


def test_only_the_hash_of_the_session_token_is_stored(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    token = cookie_value(client).rpartition(".")[0]  # type: ignore[union-attr]
    with app.app_context():
        stored = db.session.scalars(select(Session)).one()
        assert stored.token_hash == token_hash(token)
        assert token not in {stored.id, stored.token_hash}


def test_a_session_slides_after_update_age_and_reissues_its_cookie(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    client = signed_in(app)
    first = session_of(client)["session"]["expiresAt"]
    clock.advance(DAY - 1)
    quiet = client.get("/api/auth/get-session")
    assert not any(c.startswith(SESSION_COOKIE) for c in set_cookies(quiet))
    assert quiet.get_json()["session"]["expiresAt"] == first
    clock.advance(2)
    refreshed = client.get("/api/auth/get-session")
    assert any(
        c.startswith(SESSION_COOKIE + "=") and f"Max-Age={7 * DAY}" in c
        for c in set_cookies(refreshed)
    )
    assert refreshed.get_json()["session"]["expiresAt"] > first


def test_disable_refresh_reads_without_sliding(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    client = signed_in(app)
    first = session_of(client)["session"]["expiresAt"]
    clock.advance(2 * DAY)
    response = client.get("/api/auth/get-session?disableRefresh=true")
    assert response.get_json()["session"]["expiresAt"] == first
    assert set_cookies(response) == []


def test_an_expired_session_reads_as_signed_out_and_its_cookie_is_cleared(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    client = signed_in(app)
    clock.advance(7 * DAY)
    response = client.get("/api/auth/get-session?disableRefresh=1")
    assert response.get_json() is None
    assert any(
        c.startswith(SESSION_COOKIE + "=;") and "Max-Age=0" in c for c in set_cookies(response)
    )
    assert row_count(app, Session) == 0


def test_a_sliding_session_survives_past_its_first_expiry(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    client = signed_in(app)
    for _ in range(10):
        clock.advance(2 * DAY)
        assert session_of(client) is not None


@pytest.mark.parametrize("tamper", ["flip-one-byte", "drop-signature", "garbage"])
def test_a_forged_cookie_reads_as_signed_out(app: Flask, google: FakeGoogle, tamper: str) -> None:
    client = signed_in(app)
    value = cookie_value(client)
    assert value is not None
    forged = {
        "flip-one-byte": value[:5] + ("A" if value[5] != "A" else "B") + value[6:],
        "drop-signature": value.rpartition(".")[0],
        "garbage": "x" * 600,
    }[tamper]
    client.set_cookie(SESSION_COOKIE, forged)
    assert session_of(client) is None
    assert row_count(app, Session) == 1


def test_list_sessions_lists_the_users_live_sessions(app: Flask, google: FakeGoogle) -> None:
    phone, laptop = signed_in(app), signed_in(app)
    listed = laptop.get("/api/auth/list-sessions")
    assert listed.status_code == 200
    assert len(listed.get_json()) == 2
    assert {s["id"] for s in listed.get_json()} >= {session_of(phone)["session"]["id"]}


def test_list_sessions_needs_a_fresh_session(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    client = signed_in(app)
    clock.advance(DAY)
    response = client.get("/api/auth/list-sessions")
    assert response.status_code == 403
    assert response.get_json() == {"message": "Session is not fresh", "code": "SESSION_NOT_FRESH"}


def test_revoke_session_by_id_signs_the_other_device_out(app: Flask, google: FakeGoogle) -> None:
    phone, laptop = signed_in(app), signed_in(app)
    phone_id = session_of(phone)["session"]["id"]
    response = laptop.post("/api/auth/revoke-session", json={"token": phone_id}, headers=ORIGIN)
    assert response.get_json() == {"status": True}
    assert session_of(phone) is None
    assert session_of(laptop) is not None


def test_revoke_session_cannot_touch_another_users_session(app: Flask, google: FakeGoogle) -> None:
    ada = signed_in(app)
    google.user = FakeUser(sub="grace", email="grace@example.com", name="Grace")
    grace = signed_in(app)
    grace_id = session_of(grace)["session"]["id"]
    response = ada.post("/api/auth/revoke-session", json={"token": grace_id}, headers=ORIGIN)
    assert response.get_json() == {"status": True}  # Better Auth answers the same either way
    assert session_of(grace) is not None


def test_revoking_the_current_session_clears_its_cookie(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    own = session_of(client)["session"]["id"]
    response = client.post("/api/auth/revoke-session", json={"token": own}, headers=ORIGIN)
    assert any(c.startswith(SESSION_COOKIE + "=;") for c in set_cookies(response))
    assert session_of(client) is None


def test_revoke_sessions_signs_out_everywhere(app: Flask, google: FakeGoogle) -> None:
    phone, laptop = signed_in(app), signed_in(app)
    response = laptop.post("/api/auth/revoke-sessions", json={}, headers=ORIGIN)
    assert response.get_json() == {"status": True}
    assert session_of(phone) is None and session_of(laptop) is None
    assert row_count(app, Session) == 0


def test_revoke_other_sessions_keeps_the_current_one(app: Flask, google: FakeGoogle) -> None:
    phone, laptop = signed_in(app), signed_in(app)
    response = laptop.post("/api/auth/revoke-other-sessions", json={}, headers=ORIGIN)
    assert response.get_json() == {"status": True}
    assert session_of(phone) is None
    assert session_of(laptop) is not None


def test_sign_out_deletes_the_session_and_clears_the_cookie(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    response = client.post("/api/auth/sign-out", json={}, headers=ORIGIN)
    assert response.status_code == 200
    assert response.get_json() == {"success": True}
    assert any(
        c.startswith(SESSION_COOKIE + "=;") and "Max-Age=0" in c for c in set_cookies(response)
    )
    assert row_count(app, Session) == 0
    assert session_of(client) is None


def test_sign_out_without_a_session_still_succeeds(client: FlaskClient) -> None:
    response = client.post("/api/auth/sign-out")
    assert response.get_json() == {"success": True}


def test_signing_in_again_replaces_the_browsers_previous_session(
    app: Flask, google: FakeGoogle
) -> None:
    client = signed_in(app)
    first = session_of(client)["session"]["id"]
    sign_in(client, "google")
    assert session_of(client)["session"]["id"] != first
    assert row_count(app, Session) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/auth/list-sessions"),
        ("POST", "/api/auth/revoke-session"),
        ("POST", "/api/auth/revoke-sessions"),
        ("POST", "/api/auth/revoke-other-sessions"),
        ("GET", "/api/auth/list-accounts"),
        ("POST", "/api/auth/link-social"),
        ("POST", "/api/auth/unlink-account"),
        ("POST", "/api/auth/update-user"),
    ],
)
def test_endpoints_that_need_a_session_answer_401_without_one(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method, json={"token": "x"} if method == "POST" else None)
    assert response.status_code == 401
    assert response.get_json() == {"message": "Unauthorized", "code": "UNAUTHORIZED"}


def test_update_user_changes_the_name(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    response = client.post("/api/auth/update-user", json={"name": "  Ada King "}, headers=ORIGIN)
    assert response.get_json() == {"status": True}
    assert session_of(client)["user"]["name"] == "Ada King"


def test_update_user_clears_the_image_with_null(app: Flask, google: FakeGoogle) -> None:
    client = signed_in(app)
    client.post("/api/auth/update-user", json={"image": None}, headers=ORIGIN)
    assert session_of(client)["user"]["image"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "new@example.com"}, "EMAIL_CAN_NOT_BE_UPDATED"),
        ({}, "NO_FIELDS_TO_UPDATE"),
        ({"name": ""}, "VALIDATION_ERROR"),
        ({"name": 5}, "VALIDATION_ERROR"),
        ({"name": "x" * 101}, "VALIDATION_ERROR"),
        ({"image": "javascript:alert(1)"}, "VALIDATION_ERROR"),
        ({"image": "http://insecure.example/a.png"}, "VALIDATION_ERROR"),
    ],
)
def test_update_user_refuses_bad_input_and_changes_nothing(
    app: Flask, google: FakeGoogle, body: dict[str, object], code: str
) -> None:
    client = signed_in(app)
    before = session_of(client)["user"]
    response = client.post("/api/auth/update-user", json=body, headers=ORIGIN)
    assert response.status_code == 400
    assert response.get_json()["code"] == code
    assert session_of(client)["user"] == before
