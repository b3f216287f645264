"""The rules of ``state`` at the callback: single use, bound to the browser, ten minutes.

A refused state never signs anyone in. A state refused because it came back in another browser,
or with a tampered binding cookie, is not consumed: the browser that started the sign-in can
still finish it (login CSRF cannot be turned into a denial of service).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from idp.models import Account, Session, User, db
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import (
    BASE_URL,
    ORIGIN,
    SESSION_COOKIE,
    STATE_COOKIE,
    TRUSTED_ORIGIN,
    cookie_value,
    path_and_query,
    query_of,
    session_of,
    sign_in,
    start_sign_in,
    visit_provider,
)

ERROR_URL = "/oops"
DEFAULT_ERROR_URL = f"{BASE_URL}/api/auth/error"
CALLBACK_PATH = "/api/auth/callback/google"


def _rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            name: db.session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("users", User), ("accounts", Account), ("sessions", Session))
        }


NOTHING = {"users": 0, "accounts": 0, "sessions": 0}
ONE_SIGN_IN = {"users": 1, "accounts": 1, "sessions": 1}


def _back_from_google(client: FlaskClient) -> str:
    """Start a sign-in in ``client`` and return the callback URL Google sends the browser to."""
    url = start_sign_in(client, "google", callbackURL="/dashboard", errorCallbackURL=ERROR_URL)
    back = visit_provider(url)
    assert back.startswith(f"{BASE_URL}{CALLBACK_PATH}?"), back
    return back


def _sets_session_cookie(headers: list[str]) -> bool:
    return any(h.startswith(f"{SESSION_COOKIE}=") for h in headers)


def test_replayed_callback_is_refused_with_state_mismatch_and_opens_no_second_session(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    back = _back_from_google(client)
    first = client.get(path_and_query(back))
    assert first.status_code == 302
    assert first.headers["Location"] == "/dashboard"
    signed_in = cookie_value(client)

    replay = client.get(path_and_query(back))

    assert replay.status_code == 302
    # The pending sign-in is gone, and with it the errorCallbackURL it carried.
    assert replay.headers["Location"] == f"{DEFAULT_ERROR_URL}?error=state_mismatch"
    assert not _sets_session_cookie(replay.headers.getlist("Set-Cookie"))
    assert cookie_value(client) == signed_in
    assert _rows(app) == ONE_SIGN_IN
    assert len(google.token_requests) == 1  # the code was never sent again


def test_state_from_another_browser_is_refused_and_not_consumed(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    back = _back_from_google(client)
    other = app.test_client()

    refused = other.get(path_and_query(back))

    assert refused.status_code == 302
    assert refused.headers["Location"] == f"{ERROR_URL}?error=state_mismatch"
    assert cookie_value(other) is None
    assert _rows(app) == NOTHING
    assert google.token_requests == []

    finished = client.get(path_and_query(back))

    assert finished.status_code == 302
    assert finished.headers["Location"] == "/dashboard"
    assert session_of(client)["user"]["email"] == "ada@example.com"
    assert _rows(app) == ONE_SIGN_IN


def test_state_from_another_browser_is_refused_even_when_it_has_its_own_state_cookie(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    back = _back_from_google(client)
    other = app.test_client()
    start_sign_in(other, "google")  # the other browser holds a binding cookie of its own
    assert other.get_cookie(STATE_COOKIE) is not None

    refused = other.get(path_and_query(back))

    assert refused.status_code == 302
    assert refused.headers["Location"] == f"{ERROR_URL}?error=state_mismatch"
    assert cookie_value(other) is None
    assert _rows(app) == NOTHING


def _start(client: FlaskClient) -> TestResponse:
    response = client.post(
        "/api/auth/sign-in/social",
        json={"provider": "google", "callbackURL": "/dashboard", "errorCallbackURL": ERROR_URL},
        headers=ORIGIN,
    )
    assert response.status_code == 200
    return response


def _state_cookie_set_by(response: TestResponse) -> tuple[str, int] | None:
    """(value, Max-Age) of the binding cookie a response sets, if it sets one."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{STATE_COOKIE}="):
            value = header.split(";", 1)[0].split("=", 1)[1]
            max_age = re.search(r"Max-Age=(\d+)", header)
            assert max_age is not None, header
            return value, int(max_age.group(1))
    return None


def test_sign_in_started_in_one_tab_still_finishes_after_another_tab_started_one(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    first_tab = _back_from_google(client)
    second_tab = _back_from_google(client)

    assert client.get(path_and_query(first_tab)).headers["Location"] == "/dashboard"
    assert client.get(path_and_query(second_tab)).headers["Location"] == "/dashboard"


def test_each_start_renews_the_binding_cookie_so_it_lives_as_long_as_the_newest_state(
    app: Flask, client: FlaskClient, google: FakeGoogle, clock: FrozenClock
) -> None:
    first = _start(client)  # a sign-in the user abandons
    set_first = _state_cookie_set_by(first)
    assert set_first is not None
    assert set_first[1] == 600
    clock.advance(540)

    second = _start(client)  # nine minutes later the user tries again
    back = visit_provider(second.get_json()["url"])
    clock.advance(120)  # and comes back two minutes into the new state's ten minutes

    # The test client never expires cookies; a browser drops this one Max-Age seconds after
    # it last received it. Renewing it must keep the same value: other tabs are bound to it.
    assert _state_cookie_set_by(second) == set_first, (
        "the second start did not re-set the binding cookie: a browser drops it 600 s after "
        "the first start, 60 s before this callback, and the callback fails with state_mismatch"
    )
    response = client.get(path_and_query(back))
    assert response.headers["Location"] == "/dashboard"


def test_expired_state_is_refused_with_state_mismatch(
    app: Flask, client: FlaskClient, google: FakeGoogle, clock: FrozenClock
) -> None:
    back = _back_from_google(client)
    clock.advance(601)

    response = client.get(path_and_query(back))

    assert response.status_code == 302
    assert response.headers["Location"] == f"{ERROR_URL}?error=state_mismatch"
    assert cookie_value(client) is None
    assert _rows(app) == NOTHING
    assert google.token_requests == []


def test_callback_without_state_redirects_to_the_error_page_with_state_not_found(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    start_sign_in(client, "google", errorCallbackURL=ERROR_URL)

    response = client.get(f"{CALLBACK_PATH}?code=some-code")

    assert response.status_code == 302
    assert response.headers["Location"] == f"{DEFAULT_ERROR_URL}?error=state_not_found"
    assert _rows(app) == NOTHING


def test_unknown_state_redirects_to_the_error_page_with_state_mismatch(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    start_sign_in(client, "google", errorCallbackURL=ERROR_URL)

    response = client.get(f"{CALLBACK_PATH}?code=some-code&state={'A' * 43}")

    assert response.status_code == 302
    assert response.headers["Location"] == f"{DEFAULT_ERROR_URL}?error=state_mismatch"
    assert _rows(app) == NOTHING


def test_tampered_state_cookie_is_refused_with_state_mismatch(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    back = _back_from_google(client)
    cookie = client.get_cookie(STATE_COOKIE)
    assert cookie is not None
    genuine = cookie.value
    client.set_cookie(STATE_COOKIE, ("b" if genuine[0] == "a" else "a") + genuine[1:])

    refused = client.get(path_and_query(back))

    assert refused.status_code == 302
    assert refused.headers["Location"] == f"{ERROR_URL}?error=state_mismatch"
    assert cookie_value(client) is None
    assert _rows(app) == NOTHING

    client.set_cookie(STATE_COOKIE, genuine)  # the genuine cookie still finishes the sign-in
    assert client.get(path_and_query(back)).headers["Location"] == "/dashboard"


def test_state_issued_for_google_is_refused_at_the_twitch_callback(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    back = _back_from_google(client)

    response = client.get(path_and_query(back).replace(CALLBACK_PATH, "/api/auth/callback/twitch"))

    assert response.status_code == 302
    assert response.headers["Location"] == f"{ERROR_URL}?error=state_mismatch"
    assert cookie_value(client) is None
    assert _rows(app) == NOTHING


def test_form_post_callback_answers_303_to_the_get_callback_with_the_same_parameters(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    params = query_of(_back_from_google(client))

    posted = client.post(CALLBACK_PATH, data=params)

    assert posted.status_code == 303
    assert posted.headers["Location"] == f"{BASE_URL}{CALLBACK_PATH}?{urlencode(params)}"
    assert "Set-Cookie" not in posted.headers
    assert _rows(app) == NOTHING  # the POST itself consumes nothing

    finished = client.get(path_and_query(posted.headers["Location"]))

    assert finished.status_code == 302
    assert finished.headers["Location"] == "/dashboard"
    assert _rows(app) == ONE_SIGN_IN


def test_new_user_goes_to_new_user_callback_and_returning_user_to_callback(
    app: Flask, client: FlaskClient, google: FakeGoogle
) -> None:
    urls = {"callbackURL": "/home", "newUserCallbackURL": "/welcome"}

    first = sign_in(client, "google", **urls)
    again = sign_in(app.test_client(), "google", **urls)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == "/welcome"
    assert again.headers["Location"] == "/home"
    assert _rows(app) == {"users": 1, "accounts": 1, "sessions": 2}


def test_absolute_callback_url_on_a_trusted_origin_is_redirected_to_exactly(
    client: FlaskClient, google: FakeGoogle
) -> None:
    target = f"{TRUSTED_ORIGIN}/chat/room?tab=members#latest"

    response = sign_in(client, "google", callbackURL=target)

    assert response.status_code == 302
    assert response.headers["Location"] == target


def test_without_callback_url_the_browser_goes_to_the_base_origin(
    client: FlaskClient, google: FakeGoogle
) -> None:
    response = sign_in(client, "google")

    assert response.status_code == 302
    assert response.headers["Location"] == BASE_URL


def test_form_post_callback_continues_on_our_public_url_whatever_the_host_header(
    client: FlaskClient, google: FakeGoogle
) -> None:
    response = client.post(
        "/api/auth/callback/google",
        data={"code": "c", "state": "s"},
        headers={"Host": "internal:8000"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("http://localhost/api/auth/callback/google?")
