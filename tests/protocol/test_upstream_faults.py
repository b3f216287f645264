"""What a sign-in with Google does when the upstream misbehaves.

Every failure at the callback is a 302 to the errorCallbackURL given at sign-in, with the
documented ``?error=`` code, no session cookie and nothing written to the database. The only
failure that is not a redirect is the provider being unreachable at the start, before the
browser has left us: that is a JSON 502.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from idp.connectors.idtoken import DEFAULT_LEEWAY
from idp.models import Account, Session, SignInState, User, db
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeUser, Fault
from tests.fakes.upstream import ID_TOKEN_TTL
from tests.helpers import (
    BASE_URL,
    ORIGIN,
    SESSION_COOKIE,
    cookie_value,
    path_and_query,
    query_of,
    session_of,
    sign_in,
    start_sign_in,
    visit_provider,
)

ERROR_URL = "/oops"
HOSTED_DOMAIN = {"IDP_GOOGLE_HOSTED_DOMAIN": "example.com"}


def _rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (
                ("users", User),
                ("accounts", Account),
                ("sessions", Session),
                ("pending", SignInState),
            )
        }


NOTHING = {"users": 0, "accounts": 0, "sessions": 0, "pending": 0}
ONE_SIGN_IN = {"users": 1, "accounts": 1, "sessions": 1, "pending": 0}


def _sign_in_with_error_callback(client: FlaskClient) -> TestResponse:
    return sign_in(client, "google", callbackURL="/dashboard", errorCallbackURL=ERROR_URL)


def _visit(client: FlaskClient) -> str:
    """Start a sign-in and follow Google; returns the callback URL, not yet visited."""
    return visit_provider(
        start_sign_in(client, "google", callbackURL="/dashboard", errorCallbackURL=ERROR_URL)
    )


def _assert_refused(app: Flask, client: FlaskClient, response: TestResponse, error: str) -> None:
    assert response.status_code == 302
    assert response.headers["Location"] == f"{ERROR_URL}?error={error}"
    assert SESSION_COOKIE not in " ".join(response.headers.getlist("Set-Cookie"))
    assert cookie_value(client) is None
    assert _rows(app) == NOTHING


# -- the authorization response -----------------------------------------------------------------


def test_denied_consent_redirects_to_the_error_callback_with_access_denied(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.ACCESS_DENIED)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "access_denied")
    assert google.token_requests == []


def test_callback_without_code_redirects_with_no_code(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    state = query_of(start_sign_in(client, "google", errorCallbackURL=ERROR_URL))["state"]

    response = client.get(f"/api/auth/callback/google?state={state}&iss={google.issuer}")

    _assert_refused(app, client, response, "no_code")
    assert google.token_requests == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("temporarily_unavailable", "temporarily_unavailable"),
        ("<script>alert(1)</script>", "upstream_error"),
    ],
    ids=["plain-code-passed-on", "unsafe-code-replaced"],
)
def test_provider_error_is_passed_on_only_when_it_is_a_plain_code(
    app: Flask, client: FlaskClient, google: FakeGoogle, error: str, code: str
) -> None:
    state = query_of(start_sign_in(client, "google", errorCallbackURL=ERROR_URL))["state"]
    query = urlencode({"error": error, "state": state, "iss": google.issuer})

    response = client.get(f"/api/auth/callback/google?{query}")

    _assert_refused(app, client, response, code)


def test_authorization_response_naming_another_issuer_is_refused_with_issuer_mismatch(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.ISS_PARAM_MISMATCH)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "issuer_mismatch")
    # RFC 9207: the mix-up is caught before the code is sent to any token endpoint.
    assert google.token_requests == []


# -- the token endpoint -------------------------------------------------------------------------


def test_code_refused_by_the_token_endpoint_redirects_with_invalid_code(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.INVALID_GRANT)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "invalid_code")
    assert len(google.token_requests) == 1


def test_token_endpoint_slower_than_the_timeout_redirects_with_upstream_unavailable(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.TIMEOUT)  # the fake answers after 4 s; IDP_UPSTREAM_TIMEOUT is 3 s

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "upstream_unavailable")
    assert len(google.token_requests) == 1  # no retry: the code is single-use


def test_token_endpoint_server_error_redirects_with_upstream_unavailable(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.SERVER_ERROR)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "upstream_unavailable")


def test_malformed_token_response_redirects_with_invalid_upstream_response(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.MALFORMED_JSON)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "invalid_upstream_response")


# -- the ID token -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.BAD_SIGNATURE,
        Fault.UNKNOWN_KID,
        Fault.WRONG_NONCE,
        Fault.WRONG_AUD,
        Fault.WRONG_AZP,
        Fault.EXPIRED_ID_TOKEN,
        Fault.WRONG_ISS,
    ],
)
def test_id_token_failing_a_check_redirects_with_invalid_id_token(
    app: Flask, client: FlaskClient, google: FakeGoogle, fault: Fault
) -> None:
    google.fail(fault)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "invalid_id_token")
    assert google.armed_faults == {}  # the fault really was served


def test_id_token_with_googles_legacy_issuer_without_scheme_signs_in(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.LEGACY_ISS)

    response = sign_in(client, "google", callbackURL="/dashboard", errorCallbackURL=ERROR_URL)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert google.armed_faults == {}
    assert session_of(client)["user"]["email"] == "ada@example.com"
    assert _rows(app) == ONE_SIGN_IN


def test_overlong_email_claim_is_treated_as_no_email_instead_of_failing_the_insert(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    # users.email is VARCHAR(320). SQLite ignores the length, PostgreSQL refuses the row: the
    # callback must not depend on the database to reject an upstream value (never a 500).
    # A malformed email (no "@") is already treated as absent; so should an overlong one be.
    google.user = FakeUser(sub="google-sub-4", email="a" * 330 + "@example.com", name="Long")

    response = _sign_in_with_error_callback(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert session_of(client)["user"]["email"] is None
    assert _rows(app) == ONE_SIGN_IN


# -- time ---------------------------------------------------------------------------------------
# The fake and the app share one frozen clock, and the fake mints the ID token when the code is
# exchanged, at the callback. So advancing the clock between start and callback can never make
# the ID token stale: what it ages is the state (10 minutes, see test_callback_state.py). Skew
# between the two clocks is what the leeway is for; it is simulated by shifting the fake's clock.


def test_slow_callback_within_the_state_lifetime_gets_a_fresh_id_token_and_signs_in(
    app: Flask, client: FlaskClient, google: FakeGoogle, clock: FrozenClock
) -> None:
    back = _visit(client)
    clock.advance(599)

    response = client.get(path_and_query(back))

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert _rows(app) == ONE_SIGN_IN


@pytest.mark.parametrize(
    "skew",
    [
        DEFAULT_LEEWAY - 30,  # upstream clock ahead: iat slightly in our future
        -(ID_TOKEN_TTL + DEFAULT_LEEWAY - 30),  # upstream clock behind: exp slightly past
    ],
    ids=["ahead-within-leeway", "behind-within-leeway"],
)
def test_upstream_clock_skew_within_the_leeway_is_tolerated(
    app: Flask,
    client: FlaskClient,
    google: FakeGoogle,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    skew: int,
) -> None:
    monkeypatch.setattr(google, "clock", lambda: clock.timestamp() + skew)

    response = _sign_in_with_error_callback(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert _rows(app) == ONE_SIGN_IN


@pytest.mark.parametrize(
    "skew",
    [
        DEFAULT_LEEWAY + 60,  # iat a minute beyond the leeway in our future
        -(ID_TOKEN_TTL + DEFAULT_LEEWAY + 60),  # exp a minute beyond the leeway in our past
    ],
    ids=["ahead-beyond-leeway", "behind-beyond-leeway"],
)
def test_upstream_clock_skew_beyond_the_leeway_redirects_with_invalid_id_token(
    app: Flask,
    client: FlaskClient,
    google: FakeGoogle,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    skew: int,
) -> None:
    monkeypatch.setattr(google, "clock", lambda: clock.timestamp() + skew)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "invalid_id_token")


# -- discovery ----------------------------------------------------------------------------------


def _start(client: FlaskClient) -> TestResponse:
    return client.post(
        "/api/auth/sign-in/social",
        json={"provider": "google", "callbackURL": "/dashboard", "errorCallbackURL": ERROR_URL},
        headers=ORIGIN,
    )


def test_discovery_down_at_start_answers_502_provider_unavailable(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.DISCOVERY_DOWN)

    response = _start(client)

    assert response.status_code == 502
    assert response.get_json() == {
        "message": "The sign-in provider could not be reached",
        "code": "PROVIDER_UNAVAILABLE",
    }
    assert google.armed_faults == {}
    assert google.authorize_requests == []
    assert _rows(app) == NOTHING


def test_failed_discovery_is_not_cached_so_the_next_start_succeeds(
    client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.DISCOVERY_DOWN)
    assert _start(client).status_code == 502

    response = _start(client)

    assert response.status_code == 200
    assert response.get_json()["url"].startswith(google.authorization_endpoint + "?")


def test_discovery_document_is_cached_for_an_hour(
    client: FlaskClient, google: FakeGoogle, clock: FrozenClock
) -> None:
    assert _start(client).status_code == 200
    google.fail(Fault.DISCOVERY_DOWN)

    assert _start(client).status_code == 200  # from the cache: discovery is not asked
    assert google.armed_faults == {Fault.DISCOVERY_DOWN: 1}
    clock.advance(3600)
    assert _start(client).status_code == 502  # the hour is over: discovery is asked again
    assert google.armed_faults == {}


def test_discovery_down_at_the_callback_redirects_with_upstream_unavailable(
    app: Flask, client: FlaskClient, google: FakeGoogle, clock: FrozenClock
) -> None:
    assert _start(client).status_code == 200  # the discovery document is cached now
    clock.advance(3590)
    back = _visit(client)  # still from the cache
    clock.advance(20)  # the cache is stale, the state is 20 s old
    google.fail(Fault.DISCOVERY_DOWN)

    response = client.get(path_and_query(back))

    _assert_refused(app, client, response, "upstream_unavailable")
    assert google.armed_faults == {}


# -- the hosted domain (Google Workspace) -------------------------------------------------------


@pytest.mark.parametrize("env_overrides", [HOSTED_DOMAIN], ids=["hd=example.com"])
def test_hosted_domain_is_sent_in_the_authorization_request(
    client: FlaskClient, google: FakeGoogle
) -> None:
    params = query_of(start_sign_in(client, "google"))

    assert params["hd"] == "example.com"


def test_without_a_hosted_domain_no_hd_is_sent(client: FlaskClient, google: FakeGoogle) -> None:
    params = query_of(start_sign_in(client, "google"))

    assert "hd" not in params


@pytest.mark.parametrize("env_overrides", [HOSTED_DOMAIN], ids=["hd=example.com"])
@pytest.mark.parametrize("hd", ["other.com", None], ids=["other-domain", "no-hd-claim"])
def test_user_outside_the_hosted_domain_redirects_with_hosted_domain_mismatch(
    app: Flask, client: FlaskClient, google: FakeGoogle, hd: str | None
) -> None:
    google.user = FakeUser(sub="google-sub-2", email="eve@other.com", name="Eve", hd=hd)

    response = _sign_in_with_error_callback(client)

    _assert_refused(app, client, response, "hosted_domain_mismatch")


@pytest.mark.parametrize("env_overrides", [HOSTED_DOMAIN], ids=["hd=example.com"])
def test_user_of_the_hosted_domain_signs_in(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.user = FakeUser(
        sub="google-sub-3", email="bob@example.com", name="Bob", hd="example.com"
    )

    response = _sign_in_with_error_callback(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert session_of(client)["user"]["email"] == "bob@example.com"
    assert _rows(app) == ONE_SIGN_IN


def test_failure_without_an_error_callback_redirects_to_the_default_error_page(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    google.fail(Fault.ACCESS_DENIED)

    response = sign_in(client, "google", callbackURL="/dashboard")

    assert response.status_code == 302
    assert response.headers["Location"] == f"{BASE_URL}/api/auth/error?error=access_denied"
    assert _rows(app) == NOTHING


def test_a_database_failure_while_storing_the_sign_in_ends_on_the_error_page(
    app: Flask, client: FlaskClient, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from idp.users import store as users

    def database_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO users", {}, Exception("server closed the connection"))

    monkeypatch.setattr(users, "sign_in_identity", database_down)
    response = _sign_in_with_error_callback(client)
    _assert_refused(app, client, response, "internal_server_error")
