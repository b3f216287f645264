"""Which user a provider signs in as, linking another provider, and unlinking one.

Accounts are keyed by (provider, upstream subject). An email match links a new provider to an
existing user only when the provider is trusted for emails (Google by default, Twitch only with
``IDP_TWITCH_TRUST_EMAIL``) and both sides verified the address; otherwise ``account_not_linked``.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from idp.models import Account, Session, User, db
from tests.fakes import FakeGoogle, FakeTwitch, FakeUser
from tests.helpers import (
    BASE_URL,
    ORIGIN,
    SESSION_COOKIE,
    cookie_value,
    path_and_query,
    session_of,
    sign_in,
    visit_provider,
)

TRUSTED_TWITCH = pytest.mark.parametrize(
    "env_overrides", [{"IDP_TWITCH_TRUST_EMAIL": "true"}], ids=["twitch-trusted"]
)


def _rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("users", User), ("accounts", Account), ("sessions", Session))
        }


def _sets_session_cookie(response: TestResponse) -> bool:
    return any(h.startswith(f"{SESSION_COOKIE}=") for h in response.headers.getlist("Set-Cookie"))


def _sign_in_with_twitch(client: FlaskClient) -> TestResponse:
    return sign_in(
        client,
        "twitch",
        callbackURL="/dashboard",
        newUserCallbackURL="/welcome",
        errorCallbackURL="/oops",
    )


def _user_id(client: FlaskClient) -> str:
    return str(session_of(client)["user"]["id"])


def _accounts(client: FlaskClient) -> list[dict[str, Any]]:
    response = client.get("/api/auth/list-accounts")
    assert response.status_code == 200
    accounts: list[dict[str, Any]] = response.get_json()
    return accounts


def _link(client: FlaskClient, provider: str = "twitch", **body: Any) -> TestResponse:
    """POST /link-social, follow the provider, and return the callback's response."""
    started = client.post(
        "/api/auth/link-social",
        json={"provider": provider, "callbackURL": "/settings", **body},
        headers=ORIGIN,
    )
    assert started.status_code == 200, started.get_data(as_text=True)
    assert started.get_json()["redirect"] is True
    back = visit_provider(started.get_json()["url"])
    assert back.startswith(f"{BASE_URL}/api/auth/callback/{provider}"), back
    return client.get(path_and_query(back))


def _unlink(client: FlaskClient, account_id: str) -> TestResponse:
    return client.post("/api/auth/unlink-account", json={"accountId": account_id}, headers=ORIGIN)


# -- linking by email at sign-in ----------------------------------------------------------------


def test_twitch_with_the_verified_email_of_a_google_user_is_not_linked_by_default(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    assert sign_in(client, "google").status_code == 302
    other = app.test_client()

    response = _sign_in_with_twitch(other)

    assert response.status_code == 302
    assert response.headers["Location"] == "/oops?error=account_not_linked"
    assert cookie_value(other) is None
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 1}


@TRUSTED_TWITCH
def test_twitch_trusted_for_email_links_to_the_google_user_with_the_same_verified_email(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    google_user = _user_id(client)
    other = app.test_client()

    response = _sign_in_with_twitch(other)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"  # not a new user
    assert _user_id(other) == google_user
    assert sorted(a["providerId"] for a in _accounts(other)) == ["google", "twitch"]
    assert _rows(app) == {"users": 1, "accounts": 2, "sessions": 2}


@TRUSTED_TWITCH
def test_email_match_for_linking_ignores_case(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    twitch.user.email = "Ada@Example.COM"
    other = app.test_client()

    response = _sign_in_with_twitch(other)

    assert response.headers["Location"] == "/dashboard"
    assert _user_id(other) == _user_id(client)
    assert _rows(app) == {"users": 1, "accounts": 2, "sessions": 2}


@TRUSTED_TWITCH
def test_email_unverified_upstream_is_not_linked_even_from_a_trusted_provider(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    twitch.user.email_verified = False
    other = app.test_client()

    response = _sign_in_with_twitch(other)

    assert response.status_code == 302
    assert response.headers["Location"] == "/oops?error=account_not_linked"
    assert cookie_value(other) is None
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 1}


@TRUSTED_TWITCH
def test_a_verified_newcomer_claims_the_address_from_a_user_who_never_proved_it(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    google.user.email_verified = False
    sign_in(client, "google")
    squatter = session_of(client)["user"]
    assert squatter["emailVerified"] is False
    owner = app.test_client()

    response = _sign_in_with_twitch(owner)

    assert response.status_code == 302
    assert response.headers["Location"] == "/welcome"  # a new user
    claimed = session_of(owner)["user"]
    assert claimed["id"] != squatter["id"]
    assert claimed["email"] == "ada@example.com"
    assert claimed["emailVerified"] is True
    assert (
        session_of(client)["user"]["email"] is None
    )  # the squatter keeps the account, not the address
    assert _rows(app) == {"users": 2, "accounts": 2, "sessions": 2}


def test_an_address_asserted_by_an_untrusted_provider_cannot_capture_its_owners_sign_in(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    # Twitch is not trusted for emails by default: whatever it says, the address is unproven.
    twitch.user = FakeUser(
        sub="666", email="ada@example.com", email_verified=True, preferred_username="mallory"
    )
    sign_in(client, "twitch")
    attacker = session_of(client)["user"]
    assert attacker["emailVerified"] is False
    victim = app.test_client()

    assert sign_in(victim, "google").status_code == 302
    owner = session_of(victim)["user"]
    assert owner["id"] != attacker["id"]
    assert owner["emailVerified"] is True
    assert [a["providerId"] for a in _accounts(victim)] == ["google"]
    assert [a["providerId"] for a in _accounts(client)] == ["twitch"]


def test_returning_user_is_found_by_subject_even_after_the_email_changed_upstream(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    first = sign_in(client, "google", callbackURL="/home", newUserCallbackURL="/welcome")
    assert first.headers["Location"] == "/welcome"
    user_id = _user_id(client)
    google.user = FakeUser(
        sub=google.user.sub, email="ada@new.example", email_verified=True, name="Ada L."
    )
    other = app.test_client()

    again = sign_in(other, "google", callbackURL="/home", newUserCallbackURL="/welcome")

    assert again.status_code == 302
    assert again.headers["Location"] == "/home"
    assert _user_id(other) == user_id
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 2}


# -- link-social --------------------------------------------------------------------------------


def test_link_social_adds_twitch_to_the_signed_in_user_and_keeps_the_session(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    user_id = _user_id(client)
    session_id = session_of(client)["session"]["id"]
    cookie = cookie_value(client)

    response = _link(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    assert not _sets_session_cookie(response)
    assert cookie_value(client) == cookie
    assert session_of(client)["session"]["id"] == session_id
    accounts = _accounts(client)
    assert sorted((a["providerId"], a["accountId"]) for a in accounts) == [
        ("google", "google-sub-1"),
        ("twitch", "41414141"),
    ]
    assert {a["userId"] for a in accounts} == {user_id}
    assert _rows(app) == {"users": 1, "accounts": 2, "sessions": 1}


def test_link_social_with_a_different_email_upstream_still_links_to_the_signed_in_user(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    twitch.user = FakeUser(sub="52525252", email="ada.streams@example.org", email_verified=True)

    response = _link(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    assert len(_accounts(client)) == 2
    assert session_of(client)["user"]["email"] == "ada@example.com"
    assert _rows(app) == {"users": 1, "accounts": 2, "sessions": 1}


def test_link_social_of_an_account_already_linked_to_another_user_is_refused(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    twitch.user = FakeUser(sub="63636363", email="bob@example.com", preferred_username="bob")
    bob = app.test_client()
    sign_in(bob, "twitch")
    sign_in(client, "google")
    cookie = cookie_value(client)

    response = _link(client, errorCallbackURL="/settings/error")

    assert response.status_code == 302
    assert response.headers["Location"] == (
        "/settings/error?error=account_already_linked_to_different_user"
    )
    assert not _sets_session_cookie(response)
    assert cookie_value(client) == cookie
    assert [a["providerId"] for a in _accounts(client)] == ["google"]
    assert [a["providerId"] for a in _accounts(bob)] == ["twitch"]
    assert _rows(app) == {"users": 2, "accounts": 2, "sessions": 2}


def test_link_social_of_an_account_already_linked_to_the_same_user_changes_nothing(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    _link(client)

    response = _link(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    assert _rows(app) == {"users": 1, "accounts": 2, "sessions": 1}


def test_link_social_finished_after_signing_out_is_refused_with_unable_to_link_account(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    sign_in(client, "google")
    started = client.post(
        "/api/auth/link-social",
        json={"provider": "twitch", "callbackURL": "/settings", "errorCallbackURL": "/oops"},
        headers=ORIGIN,
    )
    back = visit_provider(started.get_json()["url"])
    assert client.post("/api/auth/sign-out", json={}, headers=ORIGIN).status_code == 200

    response = client.get(path_and_query(back))

    assert response.status_code == 302
    assert response.headers["Location"] == "/oops?error=unable_to_link_account"
    assert cookie_value(client) is None
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 0}


def test_link_social_without_a_session_is_unauthorized(
    client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    response = client.post(
        "/api/auth/link-social", json={"provider": "twitch", "callbackURL": "/settings"}
    )

    assert response.status_code == 401
    assert response.get_json() == {"message": "Unauthorized", "code": "UNAUTHORIZED"}


# -- unlink-account -----------------------------------------------------------------------------


def _signed_in_with_two_accounts(client: FlaskClient) -> dict[str, str]:
    """Sign in with Google, link Twitch; return the account row ids by provider."""
    sign_in(client, "google")
    assert _link(client).headers["Location"] == "/settings"
    return {a["providerId"]: a["id"] for a in _accounts(client)}


def test_unlinking_one_of_two_accounts_succeeds(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    ids = _signed_in_with_two_accounts(client)

    response = _unlink(client, ids["twitch"])

    assert response.status_code == 200
    assert response.get_json() == {"status": True}
    assert [a["id"] for a in _accounts(client)] == [ids["google"]]
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 1}


def test_unlinking_the_last_account_is_refused(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    ids = _signed_in_with_two_accounts(client)
    assert _unlink(client, ids["twitch"]).status_code == 200

    response = _unlink(client, ids["google"])

    assert response.status_code == 400
    assert response.get_json() == {
        "message": "You can't unlink your last account",
        "code": "FAILED_TO_UNLINK_LAST_ACCOUNT",
    }
    assert [a["id"] for a in _accounts(client)] == [ids["google"]]


def test_last_account_rule_answers_before_the_existence_check(
    client: FlaskClient, google: FakeGoogle
) -> None:
    sign_in(client, "google")

    response = _unlink(client, "no-such-account")

    assert response.status_code == 400
    assert response.get_json()["code"] == "FAILED_TO_UNLINK_LAST_ACCOUNT"


def test_unlinking_an_unknown_account_id_is_refused_with_account_not_found(
    client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    ids = _signed_in_with_two_accounts(client)

    response = _unlink(client, "no-such-account")

    assert response.status_code == 400
    assert response.get_json() == {"message": "Account not found", "code": "ACCOUNT_NOT_FOUND"}
    assert sorted(a["id"] for a in _accounts(client)) == sorted(ids.values())


def test_unlinking_another_users_account_is_refused_with_account_not_found(
    app: Flask, client: FlaskClient, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    twitch.user = FakeUser(sub="63636363", email="bob@example.com", preferred_username="bob")
    bob = app.test_client()
    sign_in(bob, "twitch")
    [bobs_account] = _accounts(bob)
    twitch.user = FakeUser(sub="41414141", email="ada@example.com", preferred_username="ada")
    _signed_in_with_two_accounts(client)

    response = _unlink(client, bobs_account["id"])

    assert response.status_code == 400
    assert response.get_json()["code"] == "ACCOUNT_NOT_FOUND"
    assert _accounts(bob) == [bobs_account]
