"""Tests of the upstream fakes themselves, through real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
)
from joserfc.jwk import KeySet

from tests.fakes import FakeGoogle, FakeTwitch, FakeUser, Fault, parse_consent_form, pkce_pair
from tests.fakes.upstream import OTHER_CLIENT_ID, OTHER_ISSUER, FakeProvider

REDIRECT = "http://127.0.0.1:1/callback"
TIMEOUT = 5.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def google(clock: FakeClock) -> Iterator[FakeGoogle]:
    with FakeGoogle(clock=clock) as fake:
        yield fake


@pytest.fixture
def twitch(clock: FakeClock) -> Iterator[FakeTwitch]:
    with FakeTwitch(clock=clock) as fake:
        yield fake


def authorize(fake: FakeProvider, **params: str) -> dict[str, str]:
    """GET the authorize endpoint; return the query of the redirect back."""
    query = {
        "client_id": fake.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": fake.default_scope,
        "state": "st-1",
        "nonce": "n-1",
        **params,
    }
    response = requests.get(
        fake.authorization_endpoint, params=query, allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def google_token(fake: FakeGoogle, code: str, **form: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **form}
    return requests.post(
        fake.token_endpoint, data=data, auth=(fake.client_id, fake.client_secret), timeout=TIMEOUT
    )


def twitch_token(fake: FakeTwitch, code: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    return requests.post(fake.token_endpoint, data=data, timeout=TIMEOUT)


def google_id_token(fake: FakeGoogle, **params: str) -> str:
    verifier, challenge = pkce_pair()
    code = authorize(fake, code_challenge=challenge, code_challenge_method="S256", **params)["code"]
    response = google_token(fake, code, code_verifier=verifier)
    assert response.status_code == 200, response.text
    token: str = response.json()["id_token"]
    return token


def keys_of(fake: FakeProvider) -> KeySet:
    return KeySet.import_key_set(fake.jwks)


def verify(
    fake: FakeProvider, id_token: str, clock: FakeClock, nonce: str = "n-1"
) -> dict[str, Any]:
    """Verify like a relying party: JWKS signature, then iss/aud/azp/exp/nonce."""
    jwks = requests.get(fake.jwks_uri, timeout=TIMEOUT).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(clock()),
        leeway=60,
        iss={"essential": True, "value": fake.issuer},
        aud={"essential": True, "value": fake.client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
    )
    registry.validate(token.claims)
    if "azp" in token.claims and token.claims["azp"] != fake.client_id:
        raise InvalidClaimError("azp")
    return token.claims


# ----------------------------------------------------------------- discovery
def test_google_discovery(google: FakeGoogle) -> None:
    doc = requests.get(google.discovery_url, timeout=TIMEOUT).json()
    assert doc["issuer"] == google.issuer == google.base_url
    assert doc["authorization_endpoint"] == google.base_url + "/o/oauth2/v2/auth"
    assert doc["token_endpoint"] == google.base_url + "/token"
    assert doc["jwks_uri"] == google.base_url + "/oauth2/v3/certs"
    assert doc["userinfo_endpoint"] == google.base_url + "/v1/userinfo"
    assert doc["code_challenge_methods_supported"] == ["plain", "S256"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
    ]
    keys = requests.get(doc["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert [k["kid"] for k in keys] == [google.signing_kid]
    assert "d" not in keys[0]


def test_twitch_discovery(twitch: FakeTwitch) -> None:
    assert twitch.issuer == twitch.base_url + "/oauth2"
    assert twitch.discovery_url == twitch.issuer + "/.well-known/openid-configuration"
    doc = requests.get(twitch.discovery_url, timeout=TIMEOUT).json()
    assert doc["issuer"] == twitch.issuer
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_post"]
    assert doc["claims_parameter_supported"] is True
    assert doc["jwks_uri"] == twitch.base_url + "/oauth2/keys"


def test_discovery_down(google: FakeGoogle) -> None:
    google.fail(Fault.DISCOVERY_DOWN)
    assert requests.get(google.discovery_url, timeout=TIMEOUT).status_code == 503
    assert requests.get(google.discovery_url, timeout=TIMEOUT).status_code == 200


# ------------------------------------------------------------------- Google
def test_google_full_code_flow_with_pkce(google: FakeGoogle, clock: FakeClock) -> None:
    google.user = FakeUser(
        sub="42", email="bob@corp.example", name="Bob Builder", picture="p", hd="corp.example"
    )
    verifier, challenge = pkce_pair()
    back = authorize(
        google,
        code_challenge=challenge,
        code_challenge_method="S256",
        hd="other.example",
        access_type="offline",
    )
    assert back["state"] == "st-1"
    assert back["iss"] == google.issuer
    assert back["hd"] == "corp.example"
    assert "https://www.googleapis.com/auth/userinfo.email" in back["scope"].split()
    assert google.authorize_requests[-1]["code_challenge"] == challenge
    assert google.authorize_requests[-1]["hd"] == "other.example"

    response = google_token(google, back["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] > 0
    assert body["refresh_token"]
    assert google.token_requests[-1].used_basic_auth
    assert not google.token_requests[-1].used_post_auth

    claims = verify(google, body["id_token"], clock)
    assert claims["sub"] == "42"
    assert claims["email"] == "bob@corp.example"
    assert claims["email_verified"] is True
    assert claims["hd"] == "corp.example"
    assert claims["given_name"] == "Bob"
    assert claims["family_name"] == "Builder"
    assert claims["azp"] == google.client_id
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["at_hash"]

    info = requests.get(
        google.userinfo_endpoint,
        headers={"Authorization": "Bearer " + body["access_token"]},
        timeout=TIMEOUT,
    )
    assert info.status_code == 200
    assert info.json()["email"] == "bob@corp.example"
    assert google.userinfo_requests[-1].token == body["access_token"]
    bad = requests.get(
        google.userinfo_endpoint, headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT
    )
    assert bad.status_code == 401


def test_google_client_secret_post_and_no_refresh_without_offline(google: FakeGoogle) -> None:
    code = authorize(google)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": google.client_id,
        "client_secret": google.client_secret,
    }
    response = requests.post(google.token_endpoint, data=data, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()


@pytest.mark.parametrize(
    ("challenge_kind", "verifier_kind"),
    [("s256", "wrong"), ("s256", "missing"), ("none", "present")],
)
def test_google_pkce_failures(google: FakeGoogle, challenge_kind: str, verifier_kind: str) -> None:
    verifier, challenge = pkce_pair()
    params = (
        {"code_challenge": challenge, "code_challenge_method": "S256"}
        if challenge_kind == "s256"
        else {}
    )
    code = authorize(google, **params)["code"]
    form = {
        "wrong": {"code_verifier": pkce_pair()[0]},
        "missing": {},
        "present": {"code_verifier": verifier},
    }
    response = google_token(google, code, **form[verifier_kind])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_google_bad_client_credentials(google: FakeGoogle) -> None:
    code = authorize(google)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    response = requests.post(
        google.token_endpoint, data=data, auth=(google.client_id, "nope"), timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_code_reuse_expiry_and_redirect_mismatch(google: FakeGoogle, clock: FakeClock) -> None:
    code = authorize(google)["code"]
    assert google_token(google, code).status_code == 200
    reused = google_token(google, code)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant", "error_description": "Bad Request"}

    code = authorize(google)["code"]
    clock.now += 601
    assert google_token(google, code).json()["error"] == "invalid_grant"

    code = authorize(google)["code"]
    response = google_token(google, code, redirect_uri=REDIRECT + "/other")
    assert response.status_code == 400
    assert "error" in response.json()


def test_authorize_rejects_unknown_client_without_redirect(google: FakeGoogle) -> None:
    query = {
        "client_id": "nobody",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
    }
    response = requests.get(
        google.authorization_endpoint, params=query, allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")


# ------------------------------------------------------------------- Twitch
def test_twitch_flow_post_auth_array_scope_and_claims_param(
    twitch: FakeTwitch, clock: FakeClock
) -> None:
    claims_param = {
        "id_token": {"email": None, "email_verified": None},
        "userinfo": {"picture": None},
    }
    back = authorize(
        twitch,
        scope="openid user:read:email",
        claims=json.dumps(claims_param),
        code_challenge=pkce_pair()[1],
        code_challenge_method="S256",
    )
    assert "iss" not in back
    assert back["scope"] == "openid user:read:email"
    assert back["state"] == "st-1"

    response = twitch_token(twitch, back["code"])  # no code_verifier: Twitch ignores PKCE
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == ["openid", "user:read:email"]
    assert body["token_type"] == "bearer"
    assert twitch.token_requests[-1].used_post_auth

    claims = verify(twitch, body["id_token"], clock)
    assert claims["sub"] == "141981764"
    assert claims["preferred_username"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert "picture" not in claims

    auth = {"Authorization": "Bearer " + body["access_token"]}
    info = requests.get(twitch.userinfo_endpoint, headers=auth, timeout=TIMEOUT).json()
    assert info == {"sub": "141981764", "picture": twitch.user.picture}
    valid = requests.get(
        twitch.validate_url,
        headers={"Authorization": "OAuth " + body["access_token"]},
        timeout=TIMEOUT,
    )
    assert valid.json()["login"] == "alice"
    assert valid.json()["client_id"] == twitch.client_id
    invalid = requests.get(
        twitch.validate_url, headers={"Authorization": "OAuth nope"}, timeout=TIMEOUT
    )
    assert invalid.status_code == 401
    assert invalid.json() == {
        "status": 401,
        "message": "invalid access token",
    }


def test_twitch_email_needs_scope(twitch: FakeTwitch, clock: FakeClock) -> None:
    claims_param = json.dumps({"id_token": {"email": None, "email_verified": None}})
    code = authorize(twitch, scope="openid", claims=claims_param)["code"]
    claims = verify(twitch, twitch_token(twitch, code).json()["id_token"], clock)
    assert "email" not in claims
    assert "email_verified" not in claims


def test_twitch_errors_have_status_and_message(twitch: FakeTwitch) -> None:
    code = authorize(twitch)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    basic = requests.post(
        twitch.token_endpoint,
        data=data,
        auth=(twitch.client_id, twitch.client_secret),
        timeout=TIMEOUT,
    )
    assert basic.status_code == 400
    assert set(basic.json()) == {"status", "message"}
    assert twitch_token(twitch, code).status_code == 200
    reused = twitch_token(twitch, code)
    assert reused.status_code == 400
    assert reused.json() == {"status": 400, "message": "Invalid authorization code"}


def test_twitch_rejects_legacy_iss() -> None:
    with pytest.raises(ValueError, match="does not support"):
        FakeTwitch().fail(Fault.LEGACY_ISS)


# ------------------------------------------------------------------- faults
def test_normal_id_token_verifies_and_rotated_key_is_published(
    google: FakeGoogle, clock: FakeClock
) -> None:
    verify(google, google_id_token(google), clock)
    old = google.signing_kid
    new = google.rotate_signing_key()
    assert new != old
    assert jwt.decode(google_id_token(google), keys_of(google)).header["kid"] == new


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.BAD_SIGNATURE, BadSignatureError),
        (Fault.UNKNOWN_KID, InvalidKeyIdError),
        (Fault.WRONG_NONCE, InvalidClaimError),
        (Fault.WRONG_ISS, InvalidClaimError),
        (Fault.WRONG_AUD, InvalidClaimError),
        (Fault.WRONG_AZP, InvalidClaimError),
        (Fault.EXPIRED_ID_TOKEN, ExpiredTokenError),
    ],
)
def test_id_token_faults(
    google: FakeGoogle, clock: FakeClock, fault: Fault, error: type[Exception]
) -> None:
    google.fail(fault)
    with pytest.raises(error):
        verify(google, google_id_token(google), clock)
    verify(google, google_id_token(google), clock)  # times=1: next one is fine


def test_id_token_fault_details(google: FakeGoogle) -> None:
    claims = jwt.decode(google.issue_id_token(faults=[Fault.WRONG_AZP]), keys_of(google)).claims
    assert claims["aud"] == [google.client_id, OTHER_CLIENT_ID]
    assert claims["azp"] == OTHER_CLIENT_ID
    claims = jwt.decode(google.issue_id_token(faults=[Fault.WRONG_ISS]), keys_of(google)).claims
    assert claims["iss"] == OTHER_ISSUER
    claims = jwt.decode(
        google.issue_id_token(faults=[Fault.EXPIRED_ID_TOKEN]), keys_of(google)
    ).claims
    assert claims["exp"] <= google.clock() - 3600
    claims = jwt.decode(
        google.issue_id_token(nonce="abc", email=None, extra="x"), keys_of(google)
    ).claims
    assert claims["nonce"] == "abc"
    assert "email" not in claims
    assert claims["extra"] == "x"


def test_legacy_iss(google: FakeGoogle, clock: FakeClock) -> None:
    google.fail(Fault.LEGACY_ISS)
    token = google_id_token(google)
    claims = jwt.decode(token, keys_of(google)).claims
    assert claims["iss"] == google.issuer.removeprefix("http://")


def test_access_denied_and_iss_param_mismatch(google: FakeGoogle, twitch: FakeTwitch) -> None:
    google.fail(Fault.ACCESS_DENIED)
    back = authorize(google)
    assert back["error"] == "access_denied"
    assert back["state"] == "st-1"
    assert "error_description" in back
    google.fail(Fault.ISS_PARAM_MISMATCH)
    assert authorize(google)["iss"] == OTHER_ISSUER
    twitch.fail(Fault.ISS_PARAM_MISMATCH)
    assert authorize(twitch)["iss"] == OTHER_ISSUER


def test_token_endpoint_faults(google: FakeGoogle, twitch: FakeTwitch) -> None:
    google.fail(Fault.INVALID_GRANT)
    assert google_token(google, authorize(google)["code"]).json()["error"] == "invalid_grant"
    twitch.fail(Fault.INVALID_GRANT)
    assert twitch_token(twitch, authorize(twitch)["code"]).json() == {
        "status": 400,
        "message": "Invalid authorization code",
    }
    google.fail(Fault.SERVER_ERROR)
    response = google_token(google, authorize(google)["code"])
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    google.fail(Fault.MALFORMED_JSON)
    response = google_token(google, authorize(google)["code"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_timeout_fault(google: FakeGoogle) -> None:
    google.timeout_delay = 0.5
    google.fail(Fault.TIMEOUT, times=None)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(google.token_endpoint, data={"grant_type": "x"}, timeout=0.1)
    google.clear_faults()
    assert google.armed_faults == {}
    assert google_token(google, authorize(google)["code"]).status_code == 200


def test_fault_times(google: FakeGoogle) -> None:
    google.fail(Fault.ACCESS_DENIED, times=2)
    assert authorize(google)["error"] == "access_denied"
    assert authorize(google)["error"] == "access_denied"
    assert "code" in authorize(google)


# -------------------------------------------------------------- interactive
@pytest.mark.parametrize("button", ["allow", "cancel"])
def test_interactive_consent_page(google: FakeGoogle, button: str) -> None:
    google.interactive = True
    google.client_name = "Our <App>"
    query = {
        "client_id": google.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email",
        "state": "s&1",
    }
    page = requests.get(
        google.authorization_endpoint, params=query, allow_redirects=False, timeout=TIMEOUT
    )
    assert page.status_code == 200
    assert 'id="allow"' in page.text
    assert 'id="cancel"' in page.text
    assert "Our &lt;App&gt;" in page.text
    assert google.user.email
    assert google.user.email in page.text
    action, fields = parse_consent_form(page.text, button)
    submitted = requests.post(
        google.base_url + action, data=fields, allow_redirects=False, timeout=TIMEOUT
    )
    assert submitted.status_code == 302
    back = parse_qs(urlsplit(submitted.headers["Location"]).query)
    assert back["state"] == ["s&1"]
    if button == "allow":
        assert "code" in back
        assert back["prompt"] == ["consent"]
    else:
        assert back["error"] == ["access_denied"]
    assert len(google.authorize_requests) == 1


def test_stop_closes_port() -> None:
    fake = FakeGoogle().start()
    url = fake.discovery_url
    fake.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=TIMEOUT)
    with pytest.raises(RuntimeError):
        _ = fake.base_url


def test_refresh_and_revoke(google: FakeGoogle, twitch: FakeTwitch) -> None:
    body = google_token(google, authorize(google, access_type="offline")["code"]).json()
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    auth = (google.client_id, google.client_secret)
    refreshed = requests.post(google.token_endpoint, data=data, auth=auth, timeout=TIMEOUT).json()
    assert refreshed["access_token"] != body["access_token"]
    assert "refresh_token" not in refreshed
    assert "nonce" not in jwt.decode(refreshed["id_token"], keys_of(google)).claims
    revoke = requests.post(
        google.base_url + "/revoke", data={"token": body["refresh_token"]}, timeout=TIMEOUT
    )
    assert revoke.status_code == 200
    again = requests.post(google.token_endpoint, data=data, auth=auth, timeout=TIMEOUT)
    assert again.json()["error"] == "invalid_grant"

    body = twitch_token(twitch, authorize(twitch)["code"]).json()
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
            "client_id": twitch.client_id, "client_secret": twitch.client_secret}  # fmt: skip
    refreshed = requests.post(twitch.token_endpoint, data=data, timeout=TIMEOUT).json()
    assert set(refreshed) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}


def test_reset(twitch: FakeTwitch) -> None:
    code = authorize(twitch)["code"]
    twitch.fail(Fault.TIMEOUT, times=None)
    twitch.interactive = True
    twitch.reset()
    assert twitch.armed_faults == {}
    assert twitch.authorize_requests == []
    assert twitch.validate_requests == []
    assert not twitch.interactive
    assert twitch_token(twitch, code).json()["message"] == "Invalid authorization code"
