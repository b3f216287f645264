"""Abuse of our OpenID provider: reuse, downgrade, cross-client and forged requests.

Each test asserts the exact error and that nothing leaked: no code, no token, and tokens that
were revoked stay revoked at every endpoint (userinfo, introspection, refresh).
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.models import OAuthToken, db
from idp.security.secrets import token_hash
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import BASE_URL, ORIGIN, query_of, sign_in, signed_in
from tests.oidc_helpers import (
    REDIRECT_URI,
    AuthRequest,
    RegisteredClient,
    authorize,
    basic_auth,
    code_from,
    id_token_claims,
    pkce,
    redeem,
    register,
    token_request,
    tokens_for,
)

OTHER_REDIRECT_URI = "https://rp.example/other-callback"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


# -- helpers ------------------------------------------------------------------------------------


def refresh(browser: FlaskClient, client: RegisteredClient, refresh_token: str) -> TestResponse:
    return token_request(browser, client, grant_type="refresh_token", refresh_token=refresh_token)


def revoke(browser: FlaskClient, client: RegisteredClient, token: str, hint: str) -> TestResponse:
    data = {"token": token, "token_type_hint": hint}
    return browser.post("/oauth2/revoke", data=data, headers=basic_auth(client))


def userinfo_status(browser: FlaskClient, access_token: str) -> int:
    answer = browser.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code


def introspect(browser: FlaskClient, client: RegisteredClient, token: str) -> dict[str, Any]:
    answer = browser.post("/oauth2/introspect", data={"token": token}, headers=basic_auth(client))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def assert_token_error(answer: TestResponse, error: str, status: int = 400) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["error"] == error, body
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert "id_token" not in body


def assert_dead(browser: FlaskClient, client: RegisteredClient, tokens: dict[str, Any]) -> None:
    """Every token of this response is unusable everywhere."""
    assert userinfo_status(browser, tokens["access_token"]) == 401
    assert introspect(browser, client, tokens["access_token"]) == {"active": False}
    if "refresh_token" in tokens:
        assert introspect(browser, client, tokens["refresh_token"]) == {"active": False}
        assert_token_error(refresh(browser, client, tokens["refresh_token"]), "invalid_grant")


def assert_alive(browser: FlaskClient, client: RegisteredClient, access_token: str) -> None:
    assert userinfo_status(browser, access_token) == 200
    assert introspect(browser, client, access_token)["active"] is True


def redirect_params(response: TestResponse, request: AuthRequest) -> dict[str, str]:
    """The parameters of an authorization response sent back to the client (302, or 303 after
    one of our forms), checked for state and iss (RFC 9207)."""
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(request.client.redirect_uri + "?"), location
    params = query_of(location)
    assert params.get("state") == request.state
    assert params.get("iss") == BASE_URL
    return params


def assert_error_redirect(response: TestResponse, request: AuthRequest, error: str) -> None:
    params = redirect_params(response, request)
    assert params["error"] == error, params
    assert "code" not in params


def assert_error_page(response: TestResponse) -> None:
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "code=" not in response.get_data(as_text=True)


def consent_fields(page: TestResponse) -> dict[str, str]:
    """The consent page's form, as the browser would submit it (without the decision)."""
    assert page.status_code == 200, page.get_data(as_text=True)
    body = page.get_data(as_text=True)
    assert 'action="/oauth2/consent"' in body, body
    fields = {html.unescape(k): html.unescape(v) for k, v in HIDDEN_INPUT.findall(body)}
    assert fields.get("csrf")
    return fields


def decide(
    browser: FlaskClient,
    page: TestResponse,
    decision: str,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    fields = consent_fields(page) | {"decision": decision}
    return browser.post(
        "/oauth2/consent", data=fields, headers=ORIGIN if headers is None else headers
    )


def consented_tokens(
    browser: FlaskClient, request: AuthRequest
) -> tuple[dict[str, Any], TestResponse]:
    """Authorize a third-party client through its consent page; the tokens and the page."""
    page = authorize(browser, request)
    params = redirect_params(decide(browser, page, "approve"), request)
    answer = redeem(browser, request, params["code"])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body, page


# -- authorization codes ------------------------------------------------------------------------


def test_a_reused_code_is_refused_and_revokes_the_tokens_it_gave(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client, scope="openid profile offline_access")
    code = code_from(authorize(browser, request), request)
    first = redeem(browser, request, code)
    assert first.status_code == 200
    tokens = first.get_json()
    assert_alive(browser, client, tokens["access_token"])

    assert_token_error(redeem(browser, request, code), "invalid_grant")

    assert_dead(browser, client, tokens)


def test_a_code_expires_after_sixty_seconds(app: Flask, clock: FrozenClock) -> None:
    client = register(app)
    browser = signed_in(app)
    in_time = AuthRequest(client)
    code = code_from(authorize(browser, in_time), in_time)
    clock.advance(59)
    assert redeem(browser, in_time, code).status_code == 200

    late = AuthRequest(client)
    code = code_from(authorize(browser, late), late)
    clock.advance(61)
    assert_token_error(redeem(browser, late, code), "invalid_grant")


def test_a_code_cannot_be_redeemed_by_another_client(app: Flask) -> None:
    client = register(app)
    thief = register(app)
    browser = signed_in(app)
    request = AuthRequest(client)
    code = code_from(authorize(browser, request), request)
    assert request.verifier is not None

    stolen = token_request(
        browser,
        thief,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=request.verifier,
    )

    assert_token_error(stolen, "invalid_grant")
    assert redeem(browser, request, code).status_code == 200, "the rightful client keeps its code"


def test_a_code_is_bound_to_its_redirect_uri(app: Flask) -> None:
    client = register(app, "--redirect-uri", OTHER_REDIRECT_URI)
    browser = signed_in(app)

    for sent in (OTHER_REDIRECT_URI, REDIRECT_URI + "/", None):
        request = AuthRequest(client)
        code = code_from(authorize(browser, request), request)
        assert request.verifier is not None
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": request.verifier}
        if sent is not None:
            form["redirect_uri"] = sent
        answer = browser.post("/oauth2/token", data=form, headers=basic_auth(client))
        assert_token_error(answer, "invalid_grant")


# -- PKCE ---------------------------------------------------------------------------------------


def test_a_public_client_without_code_challenge_gets_invalid_request(app: Flask) -> None:
    public = register(app, public=True)
    browser = signed_in(app)
    request = AuthRequest(public, extra={"code_challenge": "", "code_challenge_method": ""})

    assert_error_redirect(authorize(browser, request), request, "invalid_request")


def test_the_plain_code_challenge_method_is_refused(app: Flask) -> None:
    public = register(app, public=True)
    browser = signed_in(app)
    verifier, _ = pkce()
    request = AuthRequest(
        public,
        verifier=verifier,
        extra={"code_challenge": verifier, "code_challenge_method": "plain"},
    )

    assert_error_redirect(authorize(browser, request), request, "invalid_request")


def test_a_code_challenge_without_its_method_is_refused(app: Flask) -> None:
    """S256 only (RFC 9700 2.1.1): a missing method would mean plain (RFC 7636 4.3)."""
    for client in (register(app, public=True), register(app)):
        browser = signed_in(app)
        request = AuthRequest(client, extra={"code_challenge_method": ""})
        assert_error_redirect(authorize(browser, request), request, "invalid_request")


def test_a_wrong_code_verifier_is_invalid_grant(app: Flask) -> None:
    public = register(app, public=True)
    browser = signed_in(app)
    request = AuthRequest(public)
    code = code_from(authorize(browser, request), request)
    request.verifier, _ = pkce()

    assert_token_error(redeem(browser, request, code), "invalid_grant")


def test_a_code_verifier_without_a_code_challenge_is_refused(app: Flask) -> None:
    """PKCE downgrade (RFC 9700 2.1.1, 4.8.2): no challenge at authorize, a verifier at token."""
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client, extra={"code_challenge": "", "code_challenge_method": ""})
    code = code_from(authorize(browser, request), request)

    assert_token_error(redeem(browser, request, code), "invalid_request")

    plain = AuthRequest(client, extra={"code_challenge": "", "code_challenge_method": ""})
    code = code_from(authorize(browser, plain), plain)
    answer = token_request(
        browser, client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert answer.status_code == 200, "a confidential client may go without PKCE entirely"


# -- refresh tokens -----------------------------------------------------------------------------


def test_refresh_rotates_and_a_late_reuse_revokes_the_whole_grant(
    app: Flask, clock: FrozenClock
) -> None:
    client = register(app)
    browser = signed_in(app)
    first = tokens_for(browser, client)
    rotated = refresh(browser, client, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert introspect(browser, client, first["refresh_token"]) == {"active": False}
    assert_alive(browser, client, second["access_token"])

    clock.advance(11)  # past the 10 s grace window
    assert_token_error(refresh(browser, client, first["refresh_token"]), "invalid_grant")

    assert_dead(browser, client, second)
    assert_dead(browser, client, first)


def test_a_reuse_within_the_grace_window_by_the_same_client_gets_a_new_pair(
    app: Flask, clock: FrozenClock
) -> None:
    client = register(app)
    browser = signed_in(app)
    first = tokens_for(browser, client)
    one = refresh(browser, client, first["refresh_token"])
    assert one.status_code == 200

    clock.advance(5)
    two = refresh(browser, client, first["refresh_token"])

    assert two.status_code == 200, two.get_data(as_text=True)
    a, b = one.get_json(), two.get_json()
    assert a["refresh_token"] != b["refresh_token"]
    assert a["access_token"] != b["access_token"]
    assert_alive(browser, client, a["access_token"])
    assert_alive(browser, client, b["access_token"])
    assert refresh(browser, client, a["refresh_token"]).status_code == 200
    assert refresh(browser, client, b["refresh_token"]).status_code == 200


@pytest.mark.parametrize("grace", ["10", "0"])
def test_one_refresh_token_presented_by_eight_requests_at_once_is_spent_once(
    make_app: Callable[..., Flask], google: FakeGoogle, grace: str
) -> None:
    """Real concurrent requests (threads; SQLite's or PostgreSQL's locking decides): within
    the grace window every racer may get a pair; without one, only the winner keeps a live
    pair. Nobody ever gets an error other than invalid_grant, and the token is spent once."""
    app = make_app(
        IDP_GOOGLE_CLIENT_ID=google.client_id,
        IDP_GOOGLE_CLIENT_SECRET=google.client_secret,
        IDP_GOOGLE_ISSUER=google.issuer,
        IDP_REFRESH_REUSE_GRACE=grace,
    )
    client = register(app)
    browser = signed_in(app)
    spent = tokens_for(browser, client, scope="openid offline_access")["refresh_token"]
    barrier = threading.Barrier(8)
    answers: list[TestResponse] = []

    def racer() -> None:
        racing_browser = app.test_client()
        barrier.wait()
        answers.append(refresh(racing_browser, client, spent))

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted({a.status_code for a in answers}) in ([200], [200, 400], [400])
    for answer in answers:
        if answer.status_code == 400:
            assert answer.get_json()["error"] == "invalid_grant"
    issued = [a.get_json() for a in answers if a.status_code == 200]
    assert issued, "the request that won the spend gets its pair"
    assert len({pair["refresh_token"] for pair in issued}) == len(issued)
    with app.app_context():
        row = db.session.scalar(
            select(OAuthToken).where(OAuthToken.refresh_token_hash == token_hash(spent))
        )
        assert row is not None and row.refreshed_at is not None
    live = [pair for pair in issued if userinfo_status(browser, pair["access_token"]) == 200]
    if grace == "10":
        assert len(live) == len(issued) == 8
    else:
        assert len(live) <= 1  # a racer counted as reuse revokes the grant, winner's pair too


def test_a_refresh_token_presented_by_another_client_is_refused(app: Flask) -> None:
    client = register(app)
    other = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    assert_token_error(refresh(browser, other, tokens["refresh_token"]), "invalid_grant")

    assert_alive(browser, client, tokens["access_token"])
    assert refresh(browser, client, tokens["refresh_token"]).status_code == 200


def test_refresh_tokens_go_only_to_clients_that_asked_for_offline_access_or_are_ours(
    app: Flask,
) -> None:
    third_party = register(app, first_party=False)
    first_party = register(app)
    browser = signed_in(app)

    online, _ = consented_tokens(browser, AuthRequest(third_party, scope="openid profile"))
    assert "refresh_token" not in online
    offline, _ = consented_tokens(
        browser, AuthRequest(third_party, scope="openid profile offline_access")
    )
    assert "refresh_token" in offline
    assert "refresh_token" in tokens_for(browser, first_party, scope="openid profile")


def test_refresh_cannot_widen_the_scope(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client, scope="openid profile")

    wider = token_request(
        browser,
        client,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="openid profile email",
    )

    assert_token_error(wider, "invalid_scope")
    assert refresh(browser, client, tokens["refresh_token"]).status_code == 200


def test_tokens_expire(app: Flask, clock: FrozenClock) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    clock.advance(3600 + 1)
    assert userinfo_status(browser, tokens["access_token"]) == 401
    assert introspect(browser, client, tokens["access_token"]) == {"active": False}
    assert introspect(browser, client, tokens["refresh_token"])["active"] is True

    clock.advance(30 * 24 * 3600)
    assert introspect(browser, client, tokens["refresh_token"]) == {"active": False}
    assert_token_error(refresh(browser, client, tokens["refresh_token"]), "invalid_grant")


# -- client authentication ----------------------------------------------------------------------


def test_a_wrong_client_secret_is_invalid_client_and_spends_nothing(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client)
    code = code_from(authorize(browser, request), request)
    assert request.verifier is not None
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": request.verifier,
    }
    wrong = RegisteredClient(client.client_id, "not-the-secret")

    answer = browser.post("/oauth2/token", data=form, headers=basic_auth(wrong))
    assert_token_error(answer, "invalid_client", 401)
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    in_body = form | {"client_id": client.client_id, "client_secret": "not-the-secret"}
    assert_token_error(browser.post("/oauth2/token", data=in_body), "invalid_client", 401)
    secretless = form | {"client_id": client.client_id}
    assert_token_error(browser.post("/oauth2/token", data=secretless), "invalid_client", 401)

    assert redeem(browser, request, code).status_code == 200


def test_a_confidential_client_may_send_its_secret_in_the_body(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client)
    code = code_from(authorize(browser, request), request)
    assert request.verifier is not None

    answer = token_request(
        browser,
        client,
        basic=False,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=request.verifier,
    )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "id_token" in answer.get_json()


def test_a_public_client_cannot_use_client_credentials(app: Flask) -> None:
    public = register(app, public=True)
    answer = token_request(app.test_client(), public, grant_type="client_credentials")
    assert_token_error(answer, "invalid_client", 401)


def test_client_credentials_give_an_access_token_without_user(app: Flask) -> None:
    service = register(app, "--grant-type", "client_credentials", first_party=False)
    browser = app.test_client()

    answer = token_request(
        browser, service, grant_type="client_credentials", scope="openid profile"
    )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["token_type"].lower() == "bearer"
    assert "refresh_token" not in body
    assert "id_token" not in body
    looked = introspect(browser, service, body["access_token"])
    assert looked["active"] is True
    assert looked["client_id"] == service.client_id
    assert "sub" not in looked
    assert "username" not in looked
    assert userinfo_status(browser, body["access_token"]) == 401


# -- revocation and introspection ---------------------------------------------------------------


def test_revoking_an_access_token_revokes_only_it(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    first = tokens_for(browser, client)
    second = refresh(browser, client, first["refresh_token"]).get_json()
    elsewhere = tokens_for(browser, client)

    revoked = revoke(browser, client, second["access_token"], "access_token")

    assert revoked.status_code == 200
    assert userinfo_status(browser, second["access_token"]) == 401
    assert introspect(browser, client, second["access_token"]) == {"active": False}
    assert_alive(browser, client, first["access_token"])
    assert_alive(browser, client, elsewhere["access_token"])
    assert introspect(browser, client, second["refresh_token"])["active"] is True
    renewed = refresh(browser, client, second["refresh_token"])
    assert renewed.status_code == 200, renewed.get_data(as_text=True)


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "nonsense", ""])
def test_a_token_type_hint_only_says_where_to_look_first(app: Flask, hint: str) -> None:
    """RFC 7009 2.1 and RFC 7662 2.1: a wrong hint still finds the token; an unknown one is
    ignored rather than refused."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client, scope="openid offline_access")
    for kind in ("access_token", "refresh_token"):
        answer = browser.post(
            "/oauth2/introspect",
            data={"token": tokens[kind], "token_type_hint": hint},
            headers=basic_auth(client),
        )
        assert answer.status_code == 200 and answer.get_json()["active"] is True, kind
    revoked = revoke(browser, client, tokens["refresh_token"], hint)
    assert revoked.status_code == 200
    assert_dead(browser, client, tokens)


def test_revocation_and_introspection_need_a_token(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    for endpoint in ("/oauth2/revoke", "/oauth2/introspect"):
        for form in ({}, {"token": ""}):
            answer = browser.post(endpoint, data=form, headers=basic_auth(client))
            assert_token_error(answer, "invalid_request")


def test_revoking_a_refresh_token_revokes_its_grant(app: Flask) -> None:
    """RFC 7009 2.1: the access tokens of the same grant go with the refresh token."""
    client = register(app)
    browser = signed_in(app)
    first = tokens_for(browser, client)
    second = refresh(browser, client, first["refresh_token"]).get_json()
    elsewhere = tokens_for(browser, client)

    revoked = revoke(browser, client, second["refresh_token"], "refresh_token")

    assert revoked.status_code == 200
    assert_dead(browser, client, second)
    assert_dead(browser, client, first)
    assert_alive(browser, client, elsewhere["access_token"])
    assert refresh(browser, client, elsewhere["refresh_token"]).status_code == 200


def test_revoking_another_clients_token_is_refused_and_changes_nothing(app: Flask) -> None:
    client = register(app)
    other = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    for token, hint in (
        (tokens["access_token"], "access_token"),
        (tokens["refresh_token"], "refresh_token"),
    ):
        answer = revoke(browser, other, token, hint)
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert answer.get_json()["error"] == "invalid_grant"

    assert_alive(browser, client, tokens["access_token"])
    assert refresh(browser, client, tokens["refresh_token"]).status_code == 200


def test_introspection_by_a_public_client_is_refused(app: Flask) -> None:
    public = register(app, public=True)
    browser = signed_in(app)
    tokens = tokens_for(browser, public)

    answer = browser.post(
        "/oauth2/introspect",
        data={"token": tokens["access_token"], "client_id": public.client_id},
    )

    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.get_json()["error"] == "invalid_client"
    assert "active" not in answer.get_json()


# -- userinfo -----------------------------------------------------------------------------------


def test_userinfo_refuses_a_token_sent_twice(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    answer = browser.post(
        "/oauth2/userinfo",
        data={"access_token": tokens["access_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"
    assert "sub" not in answer.get_json()


def test_userinfo_takes_only_access_tokens(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    for presented in (tokens["refresh_token"], tokens["id_token"], "x" * 600, ""):
        answer = browser.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {presented}"})
        assert answer.status_code == 401, presented
        assert "sub" not in (answer.get_json() or {})


def test_userinfo_needs_the_openid_scope(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client, scope="profile email")
    assert "id_token" not in tokens

    answer = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert answer.status_code == 403
    assert answer.get_json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert "sub" not in answer.get_json()


def test_userinfo_accepts_the_token_in_a_post_body(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    answer = browser.post("/oauth2/userinfo", data={"access_token": tokens["access_token"]})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["sub"] == id_token_claims(browser, tokens["id_token"])["sub"]


# -- the authorization endpoint -----------------------------------------------------------------


def test_an_unknown_client_gets_an_error_page_and_no_redirect(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    stranger = RegisteredClient("no-such-client", None)

    assert_error_page(authorize(browser, AuthRequest(stranger)))
    assert_error_page(authorize(browser, AuthRequest(client, extra={"client_id": ""})))
    assert_error_page(authorize(browser, AuthRequest(client, extra={"redirect_uri": ""})))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example/call",
        "https://rp.example/callback/extra",
        "https://rp.example:8443/callback",
        "https://rp.example/callback/",
        "https://rp.example/callback?next=1",
        "http://rp.example/callback",
        "https://evil.example/callback",
    ],
)
def test_an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(
    app: Flask, redirect_uri: str
) -> None:
    client = register(app)
    browser = signed_in(app)
    elsewhere = RegisteredClient(client.client_id, client.client_secret, redirect_uri)

    assert_error_page(authorize(browser, AuthRequest(elsewhere)))


def test_response_type_token_is_unsupported_response_type(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client, extra={"response_type": "token"})

    answer = authorize(browser, request)

    assert_error_redirect(answer, request, "unsupported_response_type")
    assert "#" not in answer.headers["Location"]


@pytest.mark.parametrize(
    ("name", "error"),
    [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")],
)
def test_request_objects_are_not_supported(app: Flask, name: str, error: str) -> None:
    client = register(app)
    browser = signed_in(app)
    value = "eyJhbGciOiJub25lIn0.e30." if name == "request" else "https://rp.example/request.jwt"
    request = AuthRequest(client, extra={name: value})

    assert_error_redirect(authorize(browser, request), request, error)


def test_prompt_none_before_consent_to_a_third_party_is_consent_required(app: Flask) -> None:
    client = register(app, first_party=False)
    browser = signed_in(app)
    request = AuthRequest(client, extra={"prompt": "none"})

    assert_error_redirect(authorize(browser, request), request, "consent_required")


def test_prompt_none_with_login_is_invalid_request(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client, extra={"prompt": "none login"})

    assert_error_redirect(authorize(browser, request), request, "invalid_request")


# -- consent ------------------------------------------------------------------------------------


def test_an_approved_consent_is_remembered_and_prompt_consent_asks_again(app: Flask) -> None:
    client = register(app, first_party=False)
    browser = signed_in(app)
    request = AuthRequest(client)
    page = authorize(browser, request)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    approved = decide(browser, page, "approve")
    assert approved.status_code == 303
    assert "code" in redirect_params(approved, request)

    again = AuthRequest(client)
    assert "code" in redirect_params(authorize(browser, again), again)
    silent = AuthRequest(client, extra={"prompt": "none"})
    assert "code" in redirect_params(authorize(browser, silent), silent)

    forced = authorize(browser, AuthRequest(client, extra={"prompt": "consent"}))
    consent_fields(forced)
    wider = authorize(browser, AuthRequest(client, scope="openid profile email offline_access"))
    consent_fields(wider)
    assert 'data-scope="offline_access"' in wider.get_data(as_text=True)


def test_a_denied_consent_is_access_denied_and_not_remembered(app: Flask) -> None:
    client = register(app, first_party=False)
    browser = signed_in(app)
    request = AuthRequest(client)

    denied = decide(browser, authorize(browser, request), "deny")

    assert denied.status_code == 303
    assert_error_redirect(denied, request, "access_denied")
    silent = AuthRequest(client, extra={"prompt": "none"})
    assert_error_redirect(authorize(browser, silent), silent, "consent_required")


def test_a_consent_without_csrf_or_from_another_origin_is_forbidden(app: Flask) -> None:
    client = register(app, first_party=False)
    browser = signed_in(app)
    page = authorize(browser, AuthRequest(client))
    fields = consent_fields(page) | {"decision": "approve"}

    attempts = [
        browser.post(
            "/oauth2/consent", data={k: v for k, v in fields.items() if k != "csrf"}, headers=ORIGIN
        ),
        browser.post("/oauth2/consent", data=fields, headers={"Origin": "https://evil.example"}),
        browser.post("/oauth2/consent", data=fields),
        browser.post("/oauth2/consent", data=fields | {"csrf": "forged"}, headers=ORIGIN),
    ]

    for answer in attempts:
        assert answer.status_code == 403, answer.status_code
        assert "Location" not in answer.headers
    silent = AuthRequest(client, extra={"prompt": "none"})
    assert_error_redirect(authorize(browser, silent), silent, "consent_required")


def test_a_consent_form_cannot_be_replayed_from_another_session(app: Flask) -> None:
    client = register(app, first_party=False)
    victim = signed_in(app)
    attacker = signed_in(app)
    fields = consent_fields(authorize(attacker, AuthRequest(client))) | {"decision": "approve"}

    answer = victim.post("/oauth2/consent", data=fields, headers=ORIGIN)

    assert answer.status_code == 403
    assert "Location" not in answer.headers


def test_an_error_page_is_not_framable(app: Flask) -> None:
    browser = signed_in(app)
    page = authorize(browser, AuthRequest(RegisteredClient("no-such-client", None)))
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


# -- the claims parameter -----------------------------------------------------------------------


def test_a_claim_asked_for_by_name_is_released_in_the_id_token_after_consent(app: Flask) -> None:
    client = register(app, first_party=False)
    browser = signed_in(app)
    request = AuthRequest(
        client,
        scope="openid",
        extra={"claims": json.dumps({"id_token": {"email": {"essential": True}}})},
    )

    tokens, page = consented_tokens(browser, request)

    assert 'data-claim="email"' in page.get_data(as_text=True)
    claims = id_token_claims(browser, tokens["id_token"])
    assert claims["email"] == "ada@example.com"
    assert "name" not in claims
    info = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).get_json()
    assert "email" not in info, "asked for the ID token only"


@pytest.mark.parametrize("claims", ["{not json", '["email"]', '{"id_token": ["email"]}'])
def test_a_malformed_claims_parameter_is_invalid_request(app: Flask, claims: str) -> None:
    client = register(app)
    browser = signed_in(app)
    request = AuthRequest(client, extra={"claims": claims})

    assert_error_redirect(authorize(browser, request), request, "invalid_request")


def test_a_user_lists_and_withdraws_a_consent_and_the_clients_tokens_die(
    app: Flask, google: FakeGoogle
) -> None:
    client = register(app, first_party=False)
    browser = app.test_client()
    sign_in(browser, "google")
    request = AuthRequest(client, scope="openid profile")
    page = authorize(browser, request)
    assert page.status_code == 200  # the consent page
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.get_data(as_text=True)))
    approved = browser.post(
        "/oauth2/consent",
        data={**{k: html.unescape(v) for k, v in form.items()}, "decision": "approve"},
        headers={"Origin": "http://localhost"},
    )
    assert approved.status_code == 303
    code = query_of(approved.headers["Location"])["code"]
    tokens = redeem(browser, request, code).get_json()
    listed = browser.get("/api/auth/list-consents").get_json()
    assert [(c["clientId"], c["scopes"]) for c in listed] == [
        (client.client_id, ["openid", "profile"])
    ]
    withdrawn = browser.post(
        "/api/auth/revoke-consent",
        json={"clientId": client.client_id},
        headers={"Origin": "http://localhost"},
    )
    assert withdrawn.get_json() == {"status": True}
    assert browser.get("/api/auth/list-consents").get_json() == []
    info = browser.get(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 401
    again = browser.post(
        "/api/auth/revoke-consent",
        json={"clientId": client.client_id},
        headers={"Origin": "http://localhost"},
    )
    assert again.get_json()["code"] == "CONSENT_NOT_FOUND"
