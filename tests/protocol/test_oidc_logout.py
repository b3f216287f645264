"""RP-Initiated Logout 1.0 at our end_session_endpoint, one test per module of the OpenID
Foundation's oidcc-rp-initiated-logout-certification-test-plan, then the cases around it.

What the plan checks for every module: the OP redirects to the post_logout_redirect_uri only
for a request it can trust (a genuine ID token of ours as hint, a registered URI, exact match);
otherwise it shows an error or asks the user, and never redirects.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.test import TestResponse

from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeUser
from tests.helpers import (
    BASE_URL,
    ORIGIN,
    SESSION_COOKIE,
    cookie_value,
    query_of,
    sign_in,
    signed_in,
)
from tests.oidc_helpers import (
    POST_LOGOUT_URI,
    AuthRequest,
    RegisteredClient,
    authorize,
    id_token_claims,
    register,
    token_request,
    tokens_for,
)

LOGOUT = "/oauth2/logout"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


# -- helpers ------------------------------------------------------------------------------------


def is_signed_in(browser: FlaskClient) -> bool:
    return browser.get("/api/auth/get-session").get_json() is not None


def logout(browser: FlaskClient, **params: str) -> TestResponse:
    return browser.get(LOGOUT, query_string=params)


def assert_not_redirected(response: TestResponse) -> None:
    assert response.status_code in (200, 400), response.status_code
    assert "Location" not in response.headers
    assert "rp.example" not in response.headers.get("Refresh", "")
    assert response.headers["Content-Type"].startswith("text/html")


def assert_error_page(response: TestResponse) -> None:
    assert_not_redirected(response)
    assert response.status_code == 400
    assert 'id="message"' in response.get_data(as_text=True)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def assert_confirmation_page(response: TestResponse) -> dict[str, str]:
    """The "Sign out?" page; returns its form's fields."""
    assert_not_redirected(response)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'action="/oauth2/logout"' in body
    assert 'id="signed-out"' not in body
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    fields = {html.unescape(k): html.unescape(v) for k, v in HIDDEN_INPUT.findall(body)}
    assert fields.get("csrf"), body
    return fields


def assert_signed_out_page(response: TestResponse) -> None:
    assert_not_redirected(response)
    assert response.status_code == 200
    assert 'id="signed-out"' in response.get_data(as_text=True)


def confirm(browser: FlaskClient, fields: dict[str, str]) -> TestResponse:
    return browser.post(LOGOUT, data=fields, headers=ORIGIN)


def prompt_none_error(browser: FlaskClient, client: RegisteredClient) -> str | None:
    answer = authorize(browser, AuthRequest(client, extra={"prompt": "none"}))
    assert answer.status_code == 302
    return query_of(answer.headers["Location"]).get("error")


def segments(token: str) -> list[str]:
    return token.split(".")


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def header_and_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = segments(token)
    return unb64(head), unb64(body)


def foreign_signed(token: str) -> str:
    """The same header (our kid) and claims, signed by a key that is not ours."""
    header, claims = header_and_claims(token)
    key = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    return jwt.encode({"alg": "RS256", "kid": header["kid"], "typ": "JWT"}, claims, key)


# -- the certification plan's modules -----------------------------------------------------------


def test_discovery_advertises_the_end_session_endpoint(client: FlaskClient) -> None:
    """oidcc-rp-initiated-logout-discovery-endpoint-verification."""
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["end_session_endpoint"] == f"{BASE_URL}{LOGOUT}"
    assert document["issuer"] == BASE_URL


def test_logout_with_hint_registered_uri_and_state_redirects_there_and_ends_the_session(
    app: Flask,
) -> None:
    """oidcc-rp-initiated-logout."""
    client = register(app)
    browser = signed_in(app)
    token = cookie_value(browser)
    assert token is not None
    replayed = app.test_client()
    replayed.set_cookie(SESSION_COOKIE, token)
    assert is_signed_in(replayed)
    tokens = tokens_for(browser, client)
    state = "bye & see you/soon?"

    out = logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state=state,
    )

    assert out.status_code == 302, out.get_data(as_text=True)
    location = out.headers["Location"]
    assert location.startswith(POST_LOGOUT_URI + "?")
    assert query_of(location) == {"state": state}
    assert not is_signed_in(browser)
    assert not is_signed_in(replayed), "the session must end on the server, not only the cookie"
    assert prompt_none_error(browser, client) == "login_required"


def test_a_hint_signed_by_another_key_gets_an_error_page_and_no_redirect(app: Flask) -> None:
    """oidcc-rp-initiated-logout-bad-id-token-hint: a hint signed by someone else (the suite
    signs its own); here even with our key id in the header."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)
    forged = foreign_signed(tokens["id_token"])

    out = logout(browser, id_token_hint=forged, post_logout_redirect_uri=POST_LOGOUT_URI, state="s")

    assert_error_page(out)
    assert is_signed_in(browser)


def test_a_modified_hint_gets_an_error_page_and_no_redirect(app: Flask) -> None:
    """oidcc-rp-initiated-logout-modified-id-token-hint: changed to alg none (as the suite does),
    and with a claim changed under the original signature."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)
    header, claims = header_and_claims(tokens["id_token"])
    alg_none = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    signature = segments(tokens["id_token"])[2]
    resigned = f"{b64(header)}.{b64(claims | {'sub': 'someone-else'})}.{signature}"
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]  # six bits of signature
    bad_signature = ".".join([*segments(tokens["id_token"])[:2], flipped])

    for hint in (alg_none, resigned, bad_signature):
        out = logout(
            browser, id_token_hint=hint, post_logout_redirect_uri=POST_LOGOUT_URI, state="s"
        )
        assert_error_page(out)
        assert is_signed_in(browser)


def test_without_a_hint_the_user_is_asked_and_never_redirected(app: Flask) -> None:
    """oidcc-rp-initiated-logout-no-id-token-hint: the OP must not redirect back; it asks."""
    register(app)
    browser = signed_in(app)

    asked = logout(browser, post_logout_redirect_uri=POST_LOGOUT_URI, state="s")

    fields = assert_confirmation_page(asked)
    assert is_signed_in(browser)
    confirmed = confirm(browser, fields)
    assert_signed_out_page(confirmed)
    assert not is_signed_in(browser)


def test_without_any_parameter_the_user_is_asked_then_signed_out(app: Flask) -> None:
    """oidcc-rp-initiated-logout-no-params."""
    register(app)
    browser = signed_in(app)

    fields = assert_confirmation_page(logout(browser))

    assert set(fields) == {"csrf"}
    assert is_signed_in(browser)
    assert_signed_out_page(confirm(browser, fields))
    assert not is_signed_in(browser)


def test_without_a_post_logout_redirect_uri_the_user_is_signed_out_on_our_page(
    app: Flask,
) -> None:
    """oidcc-rp-initiated-logout-no-post-logout-redirect-uri."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    out = logout(browser, id_token_hint=tokens["id_token"], state="s")

    assert_signed_out_page(out)
    assert not is_signed_in(browser)
    assert prompt_none_error(browser, client) == "login_required"


def test_without_state_the_redirect_carries_no_state(app: Flask) -> None:
    """oidcc-rp-initiated-logout-no-state."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    out = logout(
        browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT_URI
    )

    assert out.status_code == 302
    assert out.headers["Location"] == POST_LOGOUT_URI
    assert not is_signed_in(browser)
    assert prompt_none_error(browser, client) == "login_required"


def test_with_only_state_the_user_is_asked_and_never_redirected(app: Flask) -> None:
    """oidcc-rp-initiated-logout-only-state."""
    register(app)
    browser = signed_in(app)

    fields = assert_confirmation_page(logout(browser, state="only"))

    assert is_signed_in(browser)
    assert_signed_out_page(confirm(browser, fields))
    assert not is_signed_in(browser)


def test_an_unregistered_post_logout_redirect_uri_gets_an_error_page(app: Flask) -> None:
    """oidcc-rp-initiated-logout-bad-post-logout-redirect-uri."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    for uri in (
        "https://rp.example/elsewhere",
        "https://evil.example/signed-out",
        POST_LOGOUT_URI + "/",
        POST_LOGOUT_URI.upper(),
    ):
        out = logout(
            browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=uri, state="s"
        )
        assert_error_page(out)
        assert is_signed_in(browser)


def test_a_query_added_to_the_post_logout_redirect_uri_makes_it_unregistered(app: Flask) -> None:
    """oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    out = logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI + "?foo=bar",
        state="s",
    )

    assert_error_page(out)
    assert is_signed_in(browser)


def test_an_expired_but_genuine_hint_is_still_accepted(app: Flask, clock: FrozenClock) -> None:
    """oidcc-rp-initiated-logout with an old hint: hints are often expired (section 2)."""
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)
    claims = id_token_claims(browser, tokens["id_token"])
    clock.advance(claims["exp"] - claims["iat"] + 60)
    assert is_signed_in(browser)

    out = logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="late",
    )

    assert out.status_code == 302, out.get_data(as_text=True)
    assert out.headers["Location"] == f"{POST_LOGOUT_URI}?state=late"
    assert not is_signed_in(browser)


def test_a_client_id_must_match_the_hints_audience(app: Flask) -> None:
    """client_id with id_token_hint (section 2): the OP MUST verify they name the same client."""
    client = register(app)
    other = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)

    refused = logout(
        browser,
        id_token_hint=tokens["id_token"],
        client_id=other.client_id,
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )
    assert_error_page(refused)
    assert is_signed_in(browser)

    out = logout(
        browser,
        id_token_hint=tokens["id_token"],
        client_id=client.client_id,
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )
    assert out.status_code == 302
    assert out.headers["Location"] == f"{POST_LOGOUT_URI}?state=s"
    assert not is_signed_in(browser)


def test_a_client_id_without_a_hint_asks_and_never_redirects(app: Flask) -> None:
    """client_id alone names the client but proves nothing about the user: ask, no redirect."""
    client = register(app)
    browser = signed_in(app)

    fields = assert_confirmation_page(
        logout(
            browser,
            client_id=client.client_id,
            post_logout_redirect_uri=POST_LOGOUT_URI,
            state="s",
        )
    )

    assert is_signed_in(browser)
    assert_signed_out_page(confirm(browser, fields))
    assert not is_signed_in(browser)


# -- around the plan ----------------------------------------------------------------------------


def test_logout_without_any_session_still_answers(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client)
    stranger = app.test_client()

    out = logout(
        stranger,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )
    assert out.status_code == 302
    assert out.headers["Location"] == f"{POST_LOGOUT_URI}?state=s"
    assert_signed_out_page(logout(stranger))
    assert_signed_out_page(logout(stranger, id_token_hint=tokens["id_token"], state="s"))
    assert is_signed_in(browser), "someone else's logout must not end this session"


def test_a_hint_for_another_user_asks_the_signed_in_user(app: Flask, google: FakeGoogle) -> None:
    client = register(app)
    ada = signed_in(app)
    google.user = FakeUser(sub="google-sub-2", email="bob@example.com", name="Bob")
    bob = signed_in(app)
    bobs_tokens = tokens_for(bob, client)

    asked = logout(
        ada,
        id_token_hint=bobs_tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )

    fields = assert_confirmation_page(asked)
    assert is_signed_in(ada) and is_signed_in(bob)
    confirmed = confirm(ada, fields)
    assert_signed_out_page(confirmed)
    assert not is_signed_in(ada)
    assert is_signed_in(bob)


def test_a_hint_from_an_earlier_session_of_the_same_user_asks_first(app: Flask) -> None:
    """Section 2: the OP MUST ask when the ID token "does not belong to the current OP session
    with the RP": an old ID token (its sid ended) must not sign out a later session silently."""
    client = register(app)
    browser = signed_in(app)
    old = tokens_for(browser, client)
    assert browser.post("/api/auth/sign-out", headers=ORIGIN).status_code == 200
    assert sign_in(browser, "google").status_code == 302
    assert is_signed_in(browser)

    asked = logout(
        browser,
        id_token_hint=old["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )

    assert_confirmation_page(asked)
    assert is_signed_in(browser)


def test_a_confirmation_without_csrf_or_from_another_origin_signs_nobody_out(app: Flask) -> None:
    register(app)
    browser = signed_in(app)
    fields = assert_confirmation_page(logout(browser, state="s"))

    without_csrf = {k: v for k, v in fields.items() if k != "csrf"}
    assert_confirmation_page(browser.post(LOGOUT, data=without_csrf, headers=ORIGIN))
    assert is_signed_in(browser)
    foreign = browser.post(LOGOUT, data=fields, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert is_signed_in(browser)
    forged = browser.post(LOGOUT, data=fields | {"csrf": "x" * len(fields["csrf"])}, headers=ORIGIN)
    assert forged.status_code == 403
    assert is_signed_in(browser)


def test_logout_revokes_online_grants_and_keeps_offline_access(app: Flask) -> None:
    client = register(app)
    browser = signed_in(app)
    online = tokens_for(browser, client, scope="openid profile")
    offline = tokens_for(browser, client, scope="openid profile offline_access")
    assert "refresh_token" in online  # first-party: a refresh token without offline_access

    out = logout(
        browser, id_token_hint=online["id_token"], post_logout_redirect_uri=POST_LOGOUT_URI
    )
    assert out.status_code == 302

    def userinfo(access_token: str) -> int:
        answer = browser.get(
            "/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        return answer.status_code

    assert userinfo(online["access_token"]) == 401
    dead = token_request(
        browser, client, grant_type="refresh_token", refresh_token=online["refresh_token"]
    )
    assert dead.status_code == 400
    assert dead.get_json()["error"] == "invalid_grant"

    assert userinfo(offline["access_token"]) == 200
    alive = token_request(
        browser, client, grant_type="refresh_token", refresh_token=offline["refresh_token"]
    )
    assert alive.status_code == 200, alive.get_data(as_text=True)
    assert userinfo(alive.get_json()["access_token"]) == 200
