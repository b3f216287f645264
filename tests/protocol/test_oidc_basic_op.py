"""The OpenID Foundation's "Basic OP" certification plan, module by module.

Each test replays one module of ``oidcc-basic-certification-test-plan`` (conformance-suite,
``OIDCCBasicTestPlan``) through the Flask test client, with the variants our provider offers:
``response_type=code``, ``response_mode=default`` (query), a static client authenticating with
``client_secret_basic`` (``client_secret_post`` for ``oidcc-server-client-secret-post``), and
asserts what the module's conditions check: status codes, error codes, ``state`` and ``iss``
echo, ID token claims, userinfo. As in the suite, requests carry ``scope=openid``, a ``state``
and a ``nonce``, and PKCE only where the module adds it (PKCE is optional for confidential
clients here, required for public ones).

Not applicable to a code-only OP with static clients (no test):
- oidcc-ensure-request-without-nonce-fails, the at_hash/c_hash checks of ID tokens from the
  authorization endpoint: implicit and hybrid response types only.
- oidcc-idtoken-signature, oidcc-idtoken-unsigned: dynamic clients only in the suite; their
  static equivalents are in test_oidc_config_op.py.
- oidcc-redirect-uri-query-OK/-mismatch/-added, oidcc-redirect-uri-regfrag,
  oidcc-ensure-redirect-uri-in-authorization-request (two registered URIs), oidcc-registration-*,
  oidcc-request-uri-signed-rs256, oidcc-userinfo-rs256: dynamic registration (the Dynamic OP
  plan); we have no registration endpoint.
- The form_post plans (oidcc-formpost-*): response_mode=form_post is not offered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Collection
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from idp.keys import jose
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import BASE_URL, ORIGIN, path_and_query, query_of, sign_in, visit_provider
from tests.oidc_helpers import REDIRECT_URI, AuthRequest, RegisteredClient, register, token_request

# SetScopeInClientConfigurationToOpenId: the scope of every module unless it says otherwise.
SUITE_SCOPE = "openid"
# CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint
ERROR_RESPONSE_PARAMS = {"error", "error_description", "error_uri", "state", "session_state", "iss"}
# EnsureIdTokenDoesNotContainNonRequestedClaims: what an ID token may carry unasked.
ID_TOKEN_CLAIMS = {
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "nbf",
    "jti",
    "sid",
    "s_hash",
}
# AbstractVerifyScopesReturnedInClaims.SCOPE_STANDARD_CLAIMS
SCOPE_STANDARD_CLAIMS = {
    "profile": {
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
        "preferred_username",
    },
    "email": {"email", "email_verified"},
    "address": {"address"},
    "phone": {"phone_number", "phone_number_verified"},
}
# ValidateIdTokenStandardClaims / ValidateUserInfoStandardClaims: Core 5.1 types.
STRING_CLAIMS = {
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
}
BOOLEAN_CLAIMS = {"email_verified", "phone_number_verified"}


# -- the relying party the suite plays -----------------------------------------------------------


@pytest.fixture
def rp(app: Flask) -> RegisteredClient:
    """The suite's static client: confidential, client_secret_basic (first party: no consent)."""
    return register(app)


@pytest.fixture
def browser(app: Flask, google: FakeGoogle) -> FlaskClient:
    """A browser signed in to us (through Google) before the test starts."""
    signed_in = app.test_client()
    sign_in(signed_in, "google")
    return signed_in


def suite_request(
    client: RegisteredClient,
    *,
    scope: str = SUITE_SCOPE,
    pkce: bool = False,
    nonce: bool = True,
    **extra: str,
) -> AuthRequest:
    """CreateAuthorizationRequestSteps: response_type=code, scope, state, nonce (+ the module's)."""
    request = AuthRequest(client, scope=scope, extra=dict(extra))
    if not pkce:  # empty values are left out of the request
        request.extra = {"code_challenge": "", "code_challenge_method": "", **extra}
    if not nonce:
        request.nonce = ""
    return request


def uses_pkce(request: AuthRequest) -> bool:
    return "code_challenge" in request.params()


def session_ids(browser: FlaskClient) -> tuple[str, str]:
    """(user id, session id) of the browser's first-party session."""
    me = browser.get("/api/auth/get-session").get_json()
    return me["user"]["id"], me["session"]["id"]


def callback_params(response: TestResponse, request: AuthRequest) -> dict[str, str]:
    """The authorization response as it reaches the redirect URI (query: response_mode default)."""
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(request.client.redirect_uri + "?"), location
    assert "#" not in location
    return query_of(location)


def code_of(response: TestResponse, request: AuthRequest) -> str:
    """CheckIfAuthorizationEndpointError, CheckStateInAuthorizationResponse,
    ValidateIssIfPresentInAuthorizationResponse (RFC 9207: always sent by us),
    EnsureMinimumAuthorizationCodeLength."""
    params = callback_params(response, request)
    assert "error" not in params, params
    assert params["state"] == request.state
    assert params["iss"] == BASE_URL
    code = params["code"]
    assert len(code.encode()) * 8 >= 128
    return code


def assert_error_description(description: str | None) -> None:
    """ValidateErrorDescriptionFrom*ResponseError: RFC 6749 4.1.2.1 and 5.2 character set."""
    if description is not None:
        assert all(0x20 <= ord(c) <= 0x7E and c not in {'"', "\\"} for c in description), (
            description
        )


def assert_authorization_error(
    response: TestResponse, request: AuthRequest, errors: Collection[str], *, state: bool = True
) -> dict[str, str]:
    """performGenericAuthorizationEndpointErrorResponseValidation, plus the expected error."""
    params = callback_params(response, request)
    assert params.get("error") in errors, params
    if state:
        assert params.get("state") == request.state
    else:
        assert "state" not in params
    assert params.get("iss") == BASE_URL
    assert "code" not in params
    assert set(params) <= ERROR_RESPONSE_PARAMS, params
    assert_error_description(params.get("error_description"))
    return params


def assert_error_page(response: TestResponse) -> None:
    """The placeholder modules: an error shown to the user, never a redirect to the client."""
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


def redeem_code(
    browser: FlaskClient, request: AuthRequest, code: str, *, basic: bool = True
) -> TestResponse:
    """CreateTokenEndpointRequestForAuthorizationCodeGrant (+ AddCodeVerifierToTokenEndpoint...)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.client.redirect_uri,
    }
    if uses_pkce(request):
        assert request.verifier is not None
        form["code_verifier"] = request.verifier
    return token_request(browser, request.client, basic=basic, **form)


def assert_token_response(response: TestResponse) -> dict[str, Any]:
    """CheckTokenEndpointHttpStatus200, CheckForAccessTokenValue, ValidateExpiresIn,
    ExtractIdTokenFromTokenResponse; CheckTokenEndpointCacheHeaders (RFC 6749 5.1)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "no-store" in [v.strip() for v in response.headers["Cache-Control"].split(",")]
    assert response.headers["Pragma"] == "no-cache"
    body: dict[str, Any] = response.get_json()
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert isinstance(body["id_token"], str)
    return body


def exchange(
    browser: FlaskClient, request: AuthRequest, code: str, *, basic: bool = True
) -> dict[str, Any]:
    return assert_token_response(redeem_code(browser, request, code, basic=basic))


def assert_token_error(response: TestResponse, error: str) -> None:
    """CheckTokenEndpointHttpStatus400, CheckTokenEndpointReturnedJsonContentType,
    CheckErrorFromTokenEndpointResponseError*, ValidateErrorDescription/UriFromTokenEndpoint."""
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error, body
    assert_error_description(body.get("error_description"))
    assert "error_uri" not in body or urlsplit(body["error_uri"]).scheme in ("http", "https")


def at_hash_of(access_token: str) -> str:
    """Core 3.1.3.6 for RS256: base64url of the left half of SHA-256 of the access token."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def assert_standard_claim_types(claims: dict[str, Any]) -> None:
    """ValidateIdTokenStandardClaims / ValidateUserInfoStandardClaims, EnsureUpdatedAtValid."""
    for name, value in claims.items():
        if name in STRING_CLAIMS:
            assert isinstance(value, str), (name, value)
        elif name in BOOLEAN_CLAIMS:
            assert isinstance(value, bool), (name, value)
        elif name == "updated_at":
            assert isinstance(value, int) and not isinstance(value, bool), value


def id_token_of(
    browser: FlaskClient,
    tokens: dict[str, Any],
    request: AuthRequest,
    clock: FrozenClock,
    *,
    auth_time_required: bool = False,
    refreshed: bool = False,
) -> dict[str, Any]:
    """PerformStandardIdTokenChecks: ValidateIdToken, ValidateIdTokenStandardClaims,
    ValidateIdTokenNonce, ValidateIdTokenACRClaimAgainstRequest, ValidateIdTokenSignature,
    CheckForSubjectInIdToken; with the at_hash check of oidcc-server (ValidateAtHash)."""
    jwks = browser.get("/.well-known/jwks.json").get_json()
    header, claims = jose.verify_signature(tokens["id_token"], KeySet.import_key_set(jwks))
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    now = int(clock.timestamp())
    client_id = request.client.client_id
    assert claims["iss"] == BASE_URL
    audience = claims["aud"]
    assert audience == client_id or (isinstance(audience, list) and client_id in audience)
    assert isinstance(claims["sub"], str) and claims["sub"]
    assert claims["iat"] == now
    assert claims["exp"] > now
    if not refreshed:  # a refreshed one is compared with the first (CompareIdTokenClaims)
        assert claims.get("nonce") == (request.nonce or None)
    if "azp" in claims:
        assert claims["azp"] == client_id
    if auth_time_required:  # CheckIdTokenAuthTimeClaimPresentDueToMaxAge
        assert "auth_time" in claims
    if "auth_time" in claims:
        assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= now
    if "acr" in claims:
        assert isinstance(claims["acr"], str) and claims["acr"]
    # ValidateAtHash checks it when present; we always send it (Core 3.1.3.6: OPTIONAL)
    assert claims["at_hash"] == at_hash_of(tokens["access_token"])
    assert_standard_claim_types(claims)
    return claims


def get_userinfo(browser: FlaskClient, access_token: str) -> TestResponse:
    return browser.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def assert_userinfo(response: TestResponse, id_claims: dict[str, Any]) -> dict[str, Any]:
    """EnsureHttpStatusCodeIs200, EnsureContentTypeJson, ValidateUserInfoStandardClaims,
    EnsureUserInfoContainsSub, VerifyUserInfoAndIdTokenInTokenEndpointSameSub."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    info: dict[str, Any] = response.get_json()
    assert info["sub"] == id_claims["sub"]
    assert_standard_claim_types(info)
    return info


def happy_flow(
    browser: FlaskClient,
    request: AuthRequest,
    clock: FrozenClock,
    *,
    auth_time_required: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A signed-in browser through the whole module: (token response, ID token claims)."""
    code = code_of(browser.get(request.url()), request)
    tokens = exchange(browser, request, code)
    claims = id_token_of(browser, tokens, request, clock, auth_time_required=auth_time_required)
    return tokens, claims


def sign_in_at_chooser(browser: FlaskClient, response: TestResponse) -> tuple[TestResponse, str]:
    """The user signs in where the authorization endpoint sent them (our chooser, then Google);
    returns the authorization endpoint's answer once the request resumes, and the Google URL."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert urlsplit(location).path == "/oauth2/sign-in", location
    chooser = query_of(location)
    assert browser.get(path_and_query(location)).status_code == 200
    chosen = browser.post(
        "/oauth2/sign-in",
        data={
            "return_to": chooser["return_to"],
            "login_hint": chooser.get("login_hint", ""),
            "provider": "google",
        },
    )
    assert chosen.status_code == 303, chosen.get_data(as_text=True)
    google_url = chosen.headers["Location"]
    back = visit_provider(google_url)
    assert back.startswith(f"{BASE_URL}/api/auth/callback/google"), back
    returned = browser.get(path_and_query(back))
    assert returned.status_code == 302, returned.get_data(as_text=True)
    resumed = path_and_query(returned.headers["Location"])
    assert resumed.startswith("/oauth2/authorize?"), resumed
    return browser.get(resumed), google_url


def approve_consent(browser: FlaskClient, page: TestResponse, request: AuthRequest) -> TestResponse:
    """The user allows a third-party client on our consent page."""
    assert page.status_code == 200, page.get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found is not None
    form = {**request.params(), "csrf": found.group(1), "decision": "approve"}
    return browser.post("/oauth2/consent", data=form, headers=ORIGIN)


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """SerializeRequestObjectWithNullAlgorithm: alg none, empty signature."""

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


# -- OP-Response-code, OP-ClientAuth-Basic ---------------------------------------------------------


def test_oidcc_server_the_code_flow_returns_a_valid_id_token_and_userinfo(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-server: the happy flow with client_secret_basic."""
    request = suite_request(rp)

    tokens, claims = happy_flow(browser, request, clock)

    user_id, session_id = session_ids(browser)
    assert claims["sub"] == user_id
    assert claims["aud"] == rp.client_id
    assert claims["sid"] == session_id
    assert claims["auth_time"] == int(clock.timestamp())  # signed in just now
    assert "name" not in claims  # EnsureIdTokenDoesNotContainName
    assert set(claims) <= ID_TOKEN_CLAIMS  # EnsureIdTokenDoesNotContainNonRequestedClaims
    assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)


def test_oidcc_server_a_public_client_completes_the_code_flow_with_pkce_and_no_secret(
    app: Flask, browser: FlaskClient, clock: FrozenClock
) -> None:
    """oidcc-server, client_auth_type=none: a public client, PKCE S256 (required for it)."""
    public = register(app, public=True)
    request = suite_request(public, pkce=True)

    tokens, claims = happy_flow(browser, request, clock)

    assert claims["aud"] == public.client_id
    assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)


def test_oidcc_server_client_secret_post_authenticates_with_the_secret_in_the_body(
    app: Flask, browser: FlaskClient, clock: FrozenClock
) -> None:
    """oidcc-server-client-secret-post: the happy flow with client_secret_post."""
    posting = register(app, "--auth-method", "client_secret_post")
    request = suite_request(posting)
    code = code_of(browser.get(request.url()), request)

    response = redeem_code(browser, request, code, basic=False)

    assert "Authorization" not in response.request.headers
    tokens = assert_token_response(response)
    claims = id_token_of(browser, tokens, request, clock)
    assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)


# -- OP-Response-Missing ---------------------------------------------------------------------------


def test_oidcc_response_type_missing_is_answered_with_an_error_to_the_client(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """oidcc-response-type-missing: unsupported_response_type or invalid_request (RFC 6749
    3.1.1), by redirect with state and iss (RFC 9207), or an error page."""
    request = suite_request(rp, response_type="")

    response = browser.get(request.url())

    assert_authorization_error(response, request, {"unsupported_response_type", "invalid_request"})


# -- OP-UserInfo-Endpoint, -Header, -Body ----------------------------------------------------------


def test_oidcc_userinfo_get_returns_the_subject_of_the_id_token(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-userinfo-get: GET with the access token in the Authorization header (Core 5.3.1)."""
    tokens, claims = happy_flow(browser, suite_request(rp), clock)

    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)

    assert info == {"sub": claims["sub"]}  # scope=openid releases nothing more


def test_oidcc_userinfo_post_header_returns_the_subject_of_the_id_token(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-userinfo-post-header: POST with the access token in the Authorization header."""
    tokens, claims = happy_flow(browser, suite_request(rp), clock)

    response = browser.post(
        "/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert_userinfo(response, claims)


def test_oidcc_userinfo_post_body_returns_the_subject_of_the_id_token(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-userinfo-post-body: POST with access_token in the form body (RFC 6750 2.2)."""
    tokens, claims = happy_flow(browser, suite_request(rp), clock)

    response = browser.post("/oauth2/userinfo", data={"access_token": tokens["access_token"]})

    assert_userinfo(response, claims)


def test_userinfo_without_a_token_answers_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    """RFC 6750 3 (checked by the suite's RP tests, not an OP module): 401 and WWW-Authenticate."""
    response = client.get("/oauth2/userinfo")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_with_an_unknown_token_answers_401_invalid_token(client: FlaskClient) -> None:
    """RFC 6750 3.1: invalid_token, in a Bearer challenge."""
    response = client.get("/oauth2/userinfo", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge


# -- OP-nonce-NoReq-code ---------------------------------------------------------------------------


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-ensure-request-without-nonce-succeeds-for-code-flow: a code is issued without a
    nonce (Core 3.1.2.1: nonce is OPTIONAL for the code flow), and the ID token has none."""
    request = suite_request(rp, nonce=False)
    assert "nonce" not in request.params()

    code = code_of(browser.get(request.url()), request)

    claims = id_token_of(browser, exchange(browser, request, code), request, clock)
    assert "nonce" not in claims


# -- OP-scope-* ------------------------------------------------------------------------------------
# VerifyScopesReturnedInUserInfoClaims (a WARNING) wants every claim of SCOPE_STANDARD_CLAIMS; we
# have only some of the profile ones (no given_name, family_name, ...), so the suite warns there.


def test_oidcc_scope_profile_releases_the_profile_claims_at_userinfo(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, google: FakeGoogle
) -> None:
    """oidcc-scope-profile: scope=openid profile; the profile claims come from userinfo."""
    request = suite_request(rp, scope="openid profile")
    tokens, claims = happy_flow(browser, request, clock)

    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)

    assert info["name"] == google.user.name
    assert info["picture"] == google.user.picture
    assert isinstance(info["preferred_username"], str)
    assert isinstance(info["updated_at"], int)
    assert set(info) - {"sub"} <= SCOPE_STANDARD_CLAIMS["profile"]


def test_oidcc_scope_email_releases_the_email_claims_at_userinfo(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, google: FakeGoogle
) -> None:
    """oidcc-scope-email: scope=openid email; email and email_verified at userinfo, no name
    (EnsureUserInfoDoesNotContainName, EnsureIdTokenDoesNotContainName).

    EnsureIdTokenDoesNotContainEmailForScopeEmail (a WARNING) is not asserted: our ID tokens
    carry the scope's claims too (Core 5.4 reserves that for response_type=id_token)."""
    request = suite_request(rp, scope="openid email")
    tokens, claims = happy_flow(browser, request, clock)

    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)

    assert info == {"sub": claims["sub"], "email": google.user.email, "email_verified": True}
    assert "name" not in claims


@pytest.mark.parametrize("scope", ["openid address", "openid phone"])
def test_oidcc_scope_address_and_phone_an_unsupported_scope_is_ignored(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, scope: str
) -> None:
    """oidcc-scope-address, oidcc-scope-phone: skipped by the suite as scopes_supported lacks
    the scope; the request must still succeed with the scope ignored (Core 3.1.2.1: "Scope
    values used that are not understood by an implementation SHOULD be ignored")."""
    unsupported = scope.split()[1]
    assert (
        unsupported
        not in browser.get("/.well-known/openid-configuration").get_json()["scopes_supported"]
    )
    request = suite_request(rp, scope=scope)

    tokens, claims = happy_flow(browser, request, clock)

    assert unsupported not in tokens.get("scope", "").split()
    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)
    assert info == {"sub": claims["sub"]}


def test_oidcc_scope_all_releases_profile_and_email_and_ignores_address_and_phone(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, google: FakeGoogle
) -> None:
    """oidcc-scope-all: scope=openid email phone address profile (skipped by the suite as
    address and phone are not in scopes_supported); what we support is released."""
    request = suite_request(rp, scope="openid email phone address profile")

    tokens, claims = happy_flow(browser, request, clock)

    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)
    assert info["email"] == google.user.email
    assert info["name"] == google.user.name
    assert not set(info) & (SCOPE_STANDARD_CLAIMS["address"] | SCOPE_STANDARD_CLAIMS["phone"])


def test_oidcc_ensure_other_scope_order_succeeds(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, google: FakeGoogle
) -> None:
    """oidcc-ensure-other-scope-order-succeeds (now oidcc-alternate-happy-flow): scope=email
    openid, parameters in reverse order (RFC 6749 3.3: the order of scopes does not matter)."""
    request = suite_request(rp, scope="email openid")
    params = request.params()
    url = "/oauth2/authorize?" + urlencode(sorted(params.items(), reverse=True))

    code = code_of(browser.get(url), request)

    tokens = exchange(browser, request, code)
    claims = id_token_of(browser, tokens, request, clock)
    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)
    assert info["email"] == google.user.email


# -- OP-display-page, OP-display-popup -------------------------------------------------------------


@pytest.mark.parametrize("display", ["page", "popup"])
def test_oidcc_display_page_and_popup_do_not_cause_an_error(
    app: Flask, rp: RegisteredClient, clock: FrozenClock, display: str
) -> None:
    """oidcc-display-page, oidcc-display-popup: with no session (cookies removed) the user is
    asked to sign in, then the code is issued (Core 3.1.2.1, 15.1)."""
    fresh = app.test_client()
    request = suite_request(rp, display=display)

    answered, _ = sign_in_at_chooser(fresh, fresh.get(request.url()))

    code = code_of(answered, request)
    id_token_of(fresh, exchange(fresh, request, code), request, clock)


# -- OP-prompt-login, OP-prompt-none-* -------------------------------------------------------------


def test_oidcc_prompt_login_asks_the_user_to_sign_in_again(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-prompt-login: the second authorization, with prompt=login, must reauthenticate
    the user; its auth_time is later than the first (CheckSecondIdTokenAuthTimeIsLaterIfPresent)."""
    _, first = happy_flow(browser, suite_request(rp), clock)
    clock.advance(1)  # WaitForOneSecond
    request = suite_request(rp, prompt="login")

    asked = browser.get(request.url())

    answered, _ = sign_in_at_chooser(browser, asked)  # a redirect to sign in, not a code
    code = code_of(answered, request)
    second = id_token_of(browser, exchange(browser, request, code), request, clock)
    assert second["auth_time"] > first["auth_time"]
    assert second["auth_time"] == int(clock.timestamp())
    assert second["sub"] == first["sub"]


def test_oidcc_prompt_none_not_logged_in_returns_login_required(
    app: Flask, rp: RegisteredClient
) -> None:
    """oidcc-prompt-none-not-logged-in: an error that requires a user interface (Core 3.1.2.6),
    with a 128-character state returned intact."""
    fresh = app.test_client()
    request = suite_request(rp, prompt="none")
    request.state = secrets.token_urlsafe(96)
    assert len(request.state) == 128

    response = fresh.get(request.url())

    params = assert_authorization_error(
        response,
        request,
        {
            "login_required",
            "interaction_required",
            "account_selection_required",
            "consent_required",
        },
    )
    assert params["error"] == "login_required"


def test_oidcc_prompt_none_logged_in_returns_a_code_without_asking(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-prompt-none-logged-in: the second authorization, with prompt=none, succeeds at
    once; same sub and auth_time as the first (AbstractOIDCCSameAuthTwiceServerTest)."""
    _, first = happy_flow(browser, suite_request(rp), clock)
    clock.advance(5)

    _, second = happy_flow(browser, suite_request(rp, prompt="none"), clock)

    assert second["sub"] == first["sub"]
    assert second["auth_time"] == first["auth_time"]


# -- OP-Req-max_age=1, OP-Req-max_age=10000 --------------------------------------------------------


def test_oidcc_max_age_1_asks_the_user_to_sign_in_again_and_returns_auth_time(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-max-age-1: after 2 seconds, max_age=1 requires a new authentication; the second ID
    token has auth_time (CheckIdTokenAuthTimeClaimPresentDueToMaxAge), later than the first
    and recent (CheckIdTokenAuthTimeIsRecentIfPresent)."""
    _, first = happy_flow(browser, suite_request(rp), clock)
    clock.advance(2)  # WaitFor2Seconds
    request = suite_request(rp, max_age="1")

    answered, _ = sign_in_at_chooser(browser, browser.get(request.url()))

    code = code_of(answered, request)
    second = id_token_of(
        browser, exchange(browser, request, code), request, clock, auth_time_required=True
    )
    assert second["auth_time"] > first["auth_time"]
    assert second["auth_time"] == int(clock.timestamp())
    assert second["sub"] == first["sub"]


def test_oidcc_max_age_10000_does_not_ask_again_and_keeps_auth_time(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-max-age-10000: max_age=15000 then max_age=10000 on a recent session: no new
    sign-in, auth_time present in both and the same, same sub."""
    _, first = happy_flow(
        browser, suite_request(rp, max_age="15000"), clock, auth_time_required=True
    )
    clock.advance(60)

    _, second = happy_flow(
        browser, suite_request(rp, max_age="10000"), clock, auth_time_required=True
    )

    assert second["auth_time"] == first["auth_time"]
    assert second["sub"] == first["sub"]


# -- OP-Req-NotUnderstood, -id_token_hint, -login_hint, -ui_locales, -claims_locales, -acr_values --


def test_oidcc_ensure_request_with_unknown_parameter_succeeds(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-ensure-request-with-unknown-parameter-succeeds: extra=foobar is ignored (RFC 6749
    3.1)."""
    happy_flow(browser, suite_request(rp, extra="foobar"), clock)


def test_oidcc_id_token_hint_with_prompt_none_succeeds_for_the_signed_in_user(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-id-token-hint: prompt=none with the first ID token as id_token_hint returns a code
    at once; same sub and auth_time (Core 3.1.2.1)."""
    first_tokens, first = happy_flow(browser, suite_request(rp), clock)
    clock.advance(5)
    request = suite_request(rp, prompt="none", id_token_hint=first_tokens["id_token"])

    _, second = happy_flow(browser, request, clock)

    assert second["sub"] == first["sub"]
    assert second["auth_time"] == first["auth_time"]


def test_oidcc_login_hint_is_accepted_and_passed_to_the_sign_in(
    app: Flask, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-login-hint: login_hint=buffy@<issuer host> must not cause an error (Core 3.1.2.1);
    we pass it on to the chosen provider."""
    fresh = app.test_client()
    hint = f"buffy@{urlsplit(BASE_URL).hostname}"
    request = suite_request(rp, login_hint=hint)

    answered, google_url = sign_in_at_chooser(fresh, fresh.get(request.url()))

    assert query_of(google_url)["login_hint"] == hint
    code = code_of(answered, request)
    id_token_of(fresh, exchange(fresh, request, code), request, clock)


@pytest.mark.parametrize(
    "extra",
    [{"ui_locales": "se"}, {"claims_locales": "se"}],
    ids=["oidcc-ui-locales", "oidcc-claims-locales"],
)
def test_oidcc_ui_locales_and_claims_locales_do_not_cause_an_error(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, extra: dict[str, str]
) -> None:
    """oidcc-ui-locales, oidcc-claims-locales: the parameter (value "se") must not cause an
    error (Core 3.1.2.1, 5.2, 15.1)."""
    request = suite_request(rp)
    request.extra |= extra

    tokens, claims = happy_flow(browser, request, clock)

    assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)


def test_oidcc_ensure_request_with_acr_values_succeeds(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-ensure-request-with-acr-values-succeeds: acr_values="1 2" (no acr_values_supported
    in our discovery) must not cause an error; an acr, if returned, is one of them (else the
    suite warns: ValidateIdTokenACRClaimAgainstAcrValuesRequest)."""
    assert "acr_values_supported" not in browser.get("/.well-known/openid-configuration").get_json()

    _, claims = happy_flow(browser, suite_request(rp, acr_values="1 2"), clock)

    assert claims.get("acr", "1") in {"1", "2"}


# -- OP-OAuth-2nd, OP-OAuth-2nd-30s, OP-OAuth-2nd-Revokes ------------------------------------------


def test_oidcc_codereuse_a_second_redemption_is_invalid_grant(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """oidcc-codereuse: the same code again, at once: 400 invalid_grant (RFC 6749 4.1.2, 5.2)."""
    request = suite_request(rp)
    code = code_of(browser.get(request.url()), request)
    exchange(browser, request, code)

    again = redeem_code(browser, request, code)

    assert_token_error(again, "invalid_grant")


def test_oidcc_codereuse_30seconds_is_invalid_grant_and_revokes_the_access_token(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-codereuse-30seconds: 30 s later, invalid_grant, and the access token issued for
    the code no longer works at userinfo (RFC 6749 4.1.2: "SHOULD revoke")."""
    request = suite_request(rp)
    code = code_of(browser.get(request.url()), request)
    tokens = exchange(browser, request, code)
    assert get_userinfo(browser, tokens["access_token"]).status_code == 200
    clock.advance(30)  # WaitFor30Seconds

    again = redeem_code(browser, request, code)

    assert_token_error(again, "invalid_grant")
    after = get_userinfo(browser, tokens["access_token"])
    assert 400 <= after.status_code < 500  # EnsureHttpStatusCodeIs4xx
    assert after.status_code == 401


# -- OP-redirect_uri-NotReg, POST requests ---------------------------------------------------------


def test_oidcc_ensure_registered_redirect_uri_shows_an_error_and_never_redirects(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """oidcc-ensure-registered-redirect-uri: an unregistered redirect URI (the registered one
    with a random path segment appended) gets an error page, no redirect (Core 3.1.2.1)."""
    request = suite_request(rp)
    request.client = RegisteredClient(
        rp.client_id, rp.client_secret, redirect_uri=f"{REDIRECT_URI}/{secrets.token_hex(5)}"
    )

    response = browser.get(request.url())

    assert_error_page(response)
    assert "asked to return to an address it has not registered" in response.get_data(as_text=True)


def test_oidcc_ensure_post_request_succeeds(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-ensure-post-request-succeeds: the authorization request as a form POST (Core
    3.1.2.1: the authorization endpoint MUST support GET and POST)."""
    request = suite_request(rp)

    response = browser.post("/oauth2/authorize", data=request.params())

    code = code_of(response, request)
    id_token_of(browser, exchange(browser, request, code), request, clock)


# -- OP-request_uri-Unsigned, OP-request-Unsigned, request object redirect_uri ---------------------


def request_object_params(auth: AuthRequest, **kept: str) -> dict[str, str]:
    """BuildRequestObjectBy*RedirectToAuthorizationEndpoint: the request's parameters move into
    the object; response_type, client_id, scope and redirect_uri are repeated outside."""
    params = auth.params()
    return {
        "response_type": params["response_type"],
        "client_id": params["client_id"],
        "scope": params["scope"],
        "redirect_uri": params["redirect_uri"],
        **kept,
    }


def test_oidcc_request_uri_unsigned_is_rejected_as_unsupported(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: we do not
    support request_uri (discovery says so), so request_uri_not_supported (Core 3.1.2.6); state
    travelled only inside the object, so none comes back."""
    discovery = browser.get("/.well-known/openid-configuration").get_json()
    assert discovery["request_uri_parameter_supported"] is False
    request = suite_request(rp)
    params = request_object_params(request, request_uri="https://rp.example/request.jwt#abc")

    response = browser.get(f"/oauth2/authorize?{urlencode(params)}")

    assert_authorization_error(response, request, {"request_uri_not_supported"}, state=False)


def test_oidcc_unsigned_request_object_is_rejected_as_unsupported(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: an alg
    none request object by value; we answer request_not_supported (Core 3.1.2.6, 6.1)."""
    discovery = browser.get("/.well-known/openid-configuration").get_json()
    assert discovery["request_parameter_supported"] is False
    request = suite_request(rp)
    params = request_object_params(request, request=unsigned_jwt(dict(request.params())))

    response = browser.get(f"/oauth2/authorize?{urlencode(params)}")

    assert_authorization_error(response, request, {"request_not_supported"}, state=False)


def test_oidcc_ensure_request_object_with_redirect_uri_shows_an_error_for_the_outer_uri(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """oidcc-ensure-request-object-with-redirect-uri: a valid redirect_uri in the request
    object, an unregistered one outside: either the object's is used or an invalid redirect_uri
    error page is shown; never a redirect anywhere (EnsureOPDoesNotUseDefaultRedirectUri...)."""
    request = suite_request(rp)
    request_object = unsigned_jwt(dict(request.params()))
    params = request_object_params(request, request=request_object)
    # AddInvalidRedirectUriToAuthorizationRequest: the registered URI's path + "_invalid"
    params["redirect_uri"] = REDIRECT_URI + "_invalid"

    response = browser.get(f"/oauth2/authorize?{urlencode(params)}")

    assert_error_page(response)


# -- OP-claims-essential ---------------------------------------------------------------------------


def test_oidcc_claims_essential_name_is_returned_at_userinfo(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock, google: FakeGoogle
) -> None:
    """oidcc-claims-essential: claims={"userinfo":{"name":{"essential":true}}} with
    scope=openid must succeed; name at userinfo (EnsureUserInfoContainsName), not in the ID token
    (EnsureIdTokenDoesNotContainName) (Core 5.5, 5.5.1)."""
    claims_request = json.dumps({"userinfo": {"name": {"essential": True}}})
    request = suite_request(rp, claims=claims_request)

    tokens, claims = happy_flow(browser, request, clock)

    info = assert_userinfo(get_userinfo(browser, tokens["access_token"]), claims)
    assert info["name"] == google.user.name
    assert "name" not in claims


# -- refresh tokens -------------------------------------------------------------------------------


def test_oidcc_refresh_token_refreshes_and_is_bound_to_its_client(
    app: Flask, browser: FlaskClient, clock: FrozenClock
) -> None:
    """oidcc-refresh-token: scope=openid offline_access with prompt=consent (Core 11), for two
    clients; a refresh (with scope) returns a Bearer token, no-store, and an ID token with the
    same iss, sub, aud, azp and auth_time and a new iat (Core 12.2, CompareIdTokenClaims); a
    refresh token of client 2 used by client 1 is invalid_grant."""
    third_party = register(app, first_party=False)
    first_party = register(app)
    scope = "openid offline_access"
    assert (
        scope.split()[1]
        in browser.get("/.well-known/openid-configuration").get_json()["scopes_supported"]
    )

    refresh_tokens: dict[str, str] = {}
    for client in (third_party, first_party):
        request = suite_request(client, scope=scope, prompt="consent")
        response = browser.get(request.url())
        if client is third_party:  # prompt=consent: the user is asked, and allows
            response = approve_consent(browser, response, request)
        code = code_of(response, request)
        tokens = exchange(browser, request, code)
        first = id_token_of(browser, tokens, request, clock)
        refresh_token = tokens["refresh_token"]
        # EnsureRefreshTokenContainsAllowedCharactersOnly (RFC 6749 A.17: VSCHAR)
        assert all(0x20 <= ord(c) <= 0x7E for c in refresh_token)
        clock.advance(1)  # WaitForOneSecond: so that iat differs

        refreshed = token_request(
            browser, client, grant_type="refresh_token", refresh_token=refresh_token, scope=scope
        )

        body = assert_token_response(refreshed)
        assert body["access_token"] != tokens["access_token"]
        second = id_token_of(browser, body, request, clock, refreshed=True)
        for name in ("iss", "sub", "aud", "azp", "auth_time"):
            assert second[name] == first[name], name
        assert second["iat"] != first["iat"]
        assert_userinfo(get_userinfo(browser, body["access_token"]), second)
        refresh_tokens[client.client_id] = body.get("refresh_token", refresh_token)

    stolen = token_request(
        browser,
        third_party,
        grant_type="refresh_token",
        refresh_token=refresh_tokens[first_party.client_id],
    )

    assert_token_error(stolen, "invalid_grant")


# -- PKCE ------------------------------------------------------------------------------------------


def test_oidcc_ensure_request_with_valid_pkce_succeeds(
    browser: FlaskClient, rp: RegisteredClient, clock: FrozenClock
) -> None:
    """oidcc-ensure-request-with-valid-pkce-succeeds: a confidential client using PKCE S256
    (RFC 7636) succeeds."""
    request = suite_request(rp, pkce=True)
    assert request.params()["code_challenge_method"] == "S256"

    happy_flow(browser, request, clock)


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_oidcc_ensure_pkce_code_verifier_required_is_invalid_grant(
    app: Flask, browser: FlaskClient, public: bool
) -> None:
    """oidcc-ensure-pkce-code-verifier-required (the suite's module is
    fapi2-security-profile-final-ensure-pkce-code-verifier-required): a code issued for a
    code_challenge, redeemed without code_verifier, is 400 invalid_grant (RFC 7636 4.6)."""
    client = register(app, public=public)
    request = suite_request(client, pkce=True)
    code = code_of(browser.get(request.url()), request)

    response = token_request(
        browser,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
    )

    assert_token_error(response, "invalid_grant")


def test_an_incorrect_pkce_code_verifier_is_invalid_grant(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected (RFC 7636 4.6)."""
    request = suite_request(rp, pkce=True)
    code = code_of(browser.get(request.url()), request)
    request.verifier = secrets.token_urlsafe(48)  # another verifier than the challenge's

    response = redeem_code(browser, request, code)

    assert_token_error(response, "invalid_grant")


def test_a_public_client_without_pkce_is_refused_with_invalid_request(
    app: Flask, browser: FlaskClient
) -> None:
    """fapi2-security-profile-final-par-ensure-pkce-required, for our public clients (RFC 9700
    2.1.1): no code_challenge is invalid_request at the authorization endpoint."""
    public = register(app, public=True)
    request = suite_request(public)

    response = browser.get(request.url())

    assert_authorization_error(response, request, {"invalid_request"})


def test_plain_pkce_is_refused_with_invalid_request(
    browser: FlaskClient, rp: RegisteredClient
) -> None:
    """fapi2-security-profile-final-par-plain-pkce-rejected: code_challenge_method=plain is
    invalid_request (RFC 7636 4.4.1; discovery offers S256 only)."""
    verifier = secrets.token_urlsafe(48)
    request = suite_request(rp, code_challenge=verifier, code_challenge_method="plain")

    response = browser.get(request.url())

    assert_authorization_error(response, request, {"invalid_request"})
