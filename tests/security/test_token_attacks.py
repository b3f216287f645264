"""Attacks on our own tokens and cookies, and cross-site requests with the session cookie.

- JWS forgeries (RFC 8725 2.1, 3.1, 3.2; RFC 7515 4.1): ``alg: none``, HMAC keyed with our
  public key, foreign keys behind any ``kid``, keys named by the token itself (``jku``, ``x5u``,
  ``jwk``), and one changed character anywhere. The session JWT of ``/api/auth/token`` is checked
  with the verifier that docs/services.md gives services; our ID tokens where we take them back,
  as ``id_token_hint`` at ``/oauth2/authorize`` and ``/oauth2/logout``.
- The session cookie changed at any position reads as signed out and changes nothing; a cookie
  planted before sign-in never becomes the session (session fixation).
- CSRF: every state-changing endpoint of ``/api/auth`` (found in the URL map, so a new one is
  covered the day it is added), ``/oauth2/consent`` and ``/oauth2/logout`` refuse a cross-site
  request carrying the session cookie and change nothing.

Login CSRF (a callback carrying another browser's state) is covered in
tests/protocol/test_callback_state.py; alg none and a foreign key as hints to logout in
tests/protocol/test_oidc_logout.py; consent forms from another origin or session in
tests/protocol/test_oidc_abuse.py.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization, RSAKey
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.keys.crypto import SigningJWK
from idp.models import Session, db
from idp.runtime import get_runtime
from idp.security.secrets import token_hash
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeUser
from tests.helpers import (
    BASE_URL,
    ORIGIN,
    SESSION_COOKIE,
    cookie_value,
    path_and_query,
    query_of,
    session_of,
    sign_in,
    signed_in,
    visit_provider,
)
from tests.oidc_helpers import (
    POST_LOGOUT_URI,
    AuthRequest,
    RegisteredClient,
    authorize,
    code_from,
    redeem,
    register,
)
from tests.security.support import (
    b64json,
    b64url,
    flip,
    header_and_claims,
    sample_positions,
    snapshot,
)

EVIL_ORIGIN = "https://evil.example"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def form_fields(page: TestResponse) -> dict[str, str]:
    """The hidden fields of one of our HTML forms (consent, logout confirmation)."""
    found = HIDDEN_INPUT.findall(page.get_data(as_text=True))
    return {html.unescape(k): html.unescape(v) for k, v in found}


# -- forging ------------------------------------------------------------------------------------


@dataclass
class Material:
    """What an attacker can see (a genuine token, our JWKS), and what only we hold (for tokens
    that carry our real signature under a header that must still be refused)."""

    token: str
    jwks: dict[str, Any]
    ours: SigningJWK


ATTACKER = RSAKey.generate_key(2048, private=True)
ATTACKER.ensure_kid()


def rs256(key: Any, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def hmac_signed(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    digest = hashlib.sha512 if header["alg"] == "HS512" else hashlib.sha256
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), digest).digest())}"


def our_public(material: Material) -> dict[str, Any]:
    kid = header_and_claims(material.token)[0]["kid"]
    found: dict[str, Any] = next(k for k in material.jwks["keys"] if k["kid"] == kid)
    return found


def public_pem(material: Material) -> bytes:
    return RSAKey.import_key(our_public(material)).as_pem(private=False)


Forgery = Callable[[Material], str]


def _header(material: Material, **changes: Any) -> dict[str, Any]:
    header = header_and_claims(material.token)[0] | changes
    return {k: v for k, v in header.items() if v is not None}


def _claims(material: Material) -> dict[str, Any]:
    return header_and_claims(material.token)[1]


FORGERIES: dict[str, Forgery] = {
    "alg-none": lambda m: f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(_claims(m))}.",
    "alg-none-with-our-kid": lambda m: f"{b64json(_header(m, alg='none'))}.{b64json(_claims(m))}.",
    "alg-None-keeping-the-signature": lambda m: ".".join(
        [b64json(_header(m, alg="None")), *m.token.split(".")[1:]]
    ),
    "alg-NONE": lambda m: f"{b64json({'alg': 'NONE'})}.{b64json(_claims(m))}.",
    "hs256-keyed-with-our-public-pem": lambda m: hmac_signed(
        public_pem(m), _header(m, alg="HS256"), _claims(m)
    ),
    "hs256-keyed-with-our-public-pem-without-newline": lambda m: hmac_signed(
        public_pem(m).strip(), _header(m, alg="HS256"), _claims(m)
    ),
    "hs512-keyed-with-our-public-pem": lambda m: hmac_signed(
        public_pem(m), _header(m, alg="HS512"), _claims(m)
    ),
    "hs256-keyed-with-our-jwk-json": lambda m: hmac_signed(
        json.dumps(our_public(m)).encode(), _header(m, alg="HS256"), _claims(m)
    ),
    "hs256-keyed-with-our-compact-jwk-json": lambda m: hmac_signed(
        json.dumps(our_public(m), separators=(",", ":")).encode(),
        _header(m, alg="HS256"),
        _claims(m),
    ),
    "hs256-keyed-with-the-jwks-document": lambda m: hmac_signed(
        json.dumps(m.jwks, separators=(",", ":")).encode(), _header(m, alg="HS256"), _claims(m)
    ),
    "hs256-keyed-with-the-kid": lambda m: hmac_signed(
        _header(m)["kid"].encode(), _header(m, alg="HS256"), _claims(m)
    ),
    "hs256-kid-path-traversal-empty-key": lambda m: hmac_signed(
        b"", {"alg": "HS256", "kid": "../../../../../../dev/null"}, _claims(m)
    ),
    "attacker-key-under-our-kid": lambda m: rs256(ATTACKER, _header(m), _claims(m)),
    "attacker-key-under-its-own-kid": lambda m: rs256(
        ATTACKER, _header(m, kid=ATTACKER.kid), _claims(m)
    ),
    "attacker-key-without-kid": lambda m: rs256(ATTACKER, {"alg": "RS256"}, _claims(m)),
    "attacker-key-kid-sql": lambda m: rs256(ATTACKER, _header(m, kid="' OR '1'='1"), _claims(m)),
    "attacker-key-named-by-jku": lambda m: rs256(
        ATTACKER,
        _header(m, kid=ATTACKER.kid, jku="https://evil.example/jwks.json"),
        _claims(m),
    ),
    "attacker-key-named-by-x5u": lambda m: rs256(
        ATTACKER, _header(m, kid=ATTACKER.kid, x5u="https://evil.example/cert.pem"), _claims(m)
    ),
    "attacker-key-embedded-as-jwk": lambda m: rs256(
        ATTACKER,
        _header(m, kid=ATTACKER.kid, jwk=ATTACKER.as_dict(private=False)),
        _claims(m),
    ),
    "attacker-key-embedded-as-jwk-under-our-kid": lambda m: rs256(
        ATTACKER, _header(m, jwk=ATTACKER.as_dict(private=False)), _claims(m)
    ),
    # Our real signature, under headers that must be refused all the same.
    "our-signature-with-a-jku": lambda m: rs256(
        m.ours, _header(m, jku="https://evil.example/jwks.json"), _claims(m)
    ),
    "our-signature-with-an-x5u": lambda m: rs256(
        m.ours, _header(m, x5u="https://evil.example/cert.pem"), _claims(m)
    ),
    "our-signature-with-our-own-jwk-embedded": lambda m: rs256(
        m.ours, _header(m, jwk=our_public(m)), _claims(m)
    ),
    "our-signature-with-an-unknown-crit": lambda m: rs256(
        m.ours, _header(m, crit=["exp"]), _claims(m)
    ),
    "our-signature-with-b64-false": lambda m: rs256(
        m.ours, _header(m, b64=False, crit=["b64"]), _claims(m)
    ),
    "claims-changed-under-the-original-signature": lambda m: ".".join(
        [
            m.token.split(".")[0],
            b64json(_claims(m) | {"sub": "someone-else"}),
            m.token.split(".")[2],
        ]
    ),
    "alg-changed-to-ps256": lambda m: ".".join(
        [b64json(_header(m, alg="PS256")), *m.token.split(".")[1:]]
    ),
    "alg-changed-to-es256": lambda m: ".".join(
        [b64json(_header(m, alg="ES256")), *m.token.split(".")[1:]]
    ),
    "signature-truncated": lambda m: m.token[:-10],
    "signature-removed": lambda m: m.token.rpartition(".")[0] + ".",
    "two-segments": lambda m: m.token.rpartition(".")[0],
    "extra-segment": lambda m: m.token + ".AAAA",
    "signature-padded": lambda m: m.token + "==",
    "whitespace-around": lambda m: f" {m.token}\n",
}


def one_byte_tamperings(token: str) -> list[str]:
    return [flip(token, i) for i in sample_positions(len(token), 40) if flip(token, i) != token]


# -- the session JWT, checked as docs/services.md tells services to -------------------------------

SERVICE_ALGORITHMS = ["RS256", "ES256", "EdDSA"]


def service_verify(token: str, jwks: dict[str, Any], *, now: int) -> dict[str, Any]:
    """The joserfc verifier of docs/services.md, with "now" given."""
    decoded = jwt.decode(
        token, KeySet.import_key_set(cast(KeySetSerialization, jwks)), algorithms=SERVICE_ALGORITHMS
    )
    jwt.JWTClaimsRegistry(
        now=now,
        leeway=30,
        iss={"essential": True, "value": BASE_URL},
        aud={"essential": True, "value": BASE_URL},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(decoded.claims)
    header = decoded.header
    if header.get("jku") or header.get("x5u") or header.get("jwk"):
        raise JoseError("keys come from the JWKS only")
    return dict(decoded.claims)


def refused_by_services(token: str, jwks: dict[str, Any], now: int) -> bool:
    try:
        service_verify(token, jwks, now=now)
    except (JoseError, ValueError, TypeError):
        return True
    return False


def session_jwt_material(app: Flask, browser: FlaskClient) -> Material:
    token = browser.get("/api/auth/token").get_json()["token"]
    jwks = browser.get("/.well-known/jwks.json").get_json()
    with app.app_context():
        _, ours = get_runtime().keys.signer("RS256")
    return Material(token, jwks, ours)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_services_refuse_every_forged_session_jwt(
    app: Flask, google: FakeGoogle, clock: FrozenClock, forgery: str
) -> None:
    browser = signed_in(app)
    material = session_jwt_material(app, browser)
    now = int(clock.timestamp())
    assert service_verify(material.token, material.jwks, now=now)["sub"]  # the control

    assert refused_by_services(FORGERIES[forgery](material), material.jwks, now)


def test_services_refuse_a_session_jwt_changed_at_any_position(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    browser = signed_in(app)
    material = session_jwt_material(app, browser)
    now = int(clock.timestamp())
    accepted = [
        t
        for t in one_byte_tamperings(material.token)
        if not refused_by_services(t, material.jwks, now)
    ]
    assert accepted == []


def test_a_session_jwt_is_refused_once_expired_and_before_it_is_valid(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    browser = signed_in(app)
    material = session_jwt_material(app, browser)
    claims = header_and_claims(material.token)[1]
    assert claims["exp"] - claims["iat"] == get_runtime(app).settings.jwt_ttl
    assert claims["nbf"] == claims["iat"]
    jwks = material.jwks
    assert not refused_by_services(material.token, jwks, claims["exp"] + 29)  # within the leeway
    assert refused_by_services(material.token, jwks, claims["exp"] + 31)
    assert refused_by_services(material.token, jwks, claims["nbf"] - 31)
    # A token we did sign, but dated in the future, is refused too.
    future = rs256(
        material.ours,
        header_and_claims(material.token)[0],
        claims
        | {"nbf": claims["nbf"] + 3600, "iat": claims["iat"] + 3600, "exp": claims["exp"] + 3600},
    )
    assert refused_by_services(future, jwks, claims["iat"])
    expired = rs256(material.ours, header_and_claims(material.token)[0], claims | {"exp": 1})
    assert refused_by_services(expired, jwks, claims["iat"])


def test_an_id_token_is_not_a_session_jwt(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    """Cross-JWT confusion (RFC 8725 2.8, 3.11): same issuer, same keys, another audience."""
    client = register(app)
    browser = signed_in(app)
    id_token = tokens_for(browser, client)["id_token"]
    jwks = browser.get("/.well-known/jwks.json").get_json()
    assert refused_by_services(id_token, jwks, int(clock.timestamp()))


# -- our ID tokens as id_token_hint ---------------------------------------------------------------


def tokens_for(browser: FlaskClient, client: RegisteredClient) -> dict[str, Any]:
    request = AuthRequest(client, scope="openid profile")
    answer = redeem(browser, request, code_from(authorize(browser, request), request))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def id_token_material(app: Flask, browser: FlaskClient, client: RegisteredClient) -> Material:
    token = tokens_for(browser, client)["id_token"]
    jwks = browser.get("/.well-known/jwks.json").get_json()
    with app.app_context():
        _, ours = get_runtime().keys.signer("RS256")
    return Material(token, jwks, ours)


def hinted_authorize(browser: FlaskClient, client: RegisteredClient, hint: str) -> dict[str, str]:
    request = AuthRequest(client, scope="openid", extra={"prompt": "none", "id_token_hint": hint})
    response = authorize(browser, request)
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    assert location.startswith(client.redirect_uri + "?"), location
    return query_of(location)


def hinted_logout(browser: FlaskClient, hint: str) -> TestResponse:
    return browser.get(
        "/oauth2/logout",
        query_string={
            "id_token_hint": hint,
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "s",
        },
    )


def assert_hint_refused(browser: FlaskClient, client: RegisteredClient, hint: str) -> None:
    answer = hinted_authorize(browser, client, hint)
    assert answer.get("error") == "invalid_request", answer
    assert "code" not in answer
    out = hinted_logout(browser, hint)
    assert out.status_code == 400, out.status_code
    assert "Location" not in out.headers
    assert session_of(browser) is not None, "a refused hint must not sign anyone out"


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_id_token_hint_is_refused_at_authorize_and_logout(
    app: Flask, google: FakeGoogle, forgery: str
) -> None:
    client = register(app)
    browser = signed_in(app)
    material = id_token_material(app, browser, client)
    assert "code" in hinted_authorize(browser, client, material.token)  # the control

    assert_hint_refused(browser, client, FORGERIES[forgery](material))


def test_an_id_token_hint_changed_at_any_position_is_refused(
    app: Flask, google: FakeGoogle
) -> None:
    client = register(app)
    browser = signed_in(app)
    material = id_token_material(app, browser, client)
    for tampered in one_byte_tamperings(material.token):
        assert_hint_refused(browser, client, tampered)


def test_a_session_jwt_is_not_an_id_token_hint(app: Flask, google: FakeGoogle) -> None:
    """The session JWT is "never accepted by idp itself" (docs/architecture.md). It shares our
    issuer and keys with ID tokens, so taken as an id_token_hint it would name the signed-in
    user and session (sub, sid): logout would then sign the user out without asking, which is
    the logout CSRF that RP-Initiated Logout 1.0 section 6 guards against. Anyone a session JWT
    was handed to (an embed, a service) could do that."""
    client = register(app)
    browser = signed_in(app)
    session_jwt = browser.get("/api/auth/token").get_json()["token"]

    answer = hinted_authorize(browser, client, session_jwt)
    assert answer.get("error") == "invalid_request", answer

    out = browser.get("/oauth2/logout", query_string={"id_token_hint": session_jwt})
    assert "Location" not in out.headers
    assert session_of(browser) is not None, "a session JWT as hint signed the user out unasked"
    assert out.status_code in (200, 400)
    if out.status_code == 200:  # asked first, like a logout without a hint
        assert 'action="/oauth2/logout"' in out.get_data(as_text=True)


def test_our_jwts_are_not_bearer_credentials_anywhere_in_idp(
    app: Flask, google: FakeGoogle
) -> None:
    """Neither the session JWT nor an ID token opens userinfo, passes introspection, or stands
    in for the session cookie."""
    client = register(app)
    browser = signed_in(app)
    session_jwt = browser.get("/api/auth/token").get_json()["token"]
    id_token = tokens_for(browser, client)["id_token"]
    stranger = app.test_client()
    basic = {
        "Authorization": "Basic "
        + b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    }
    for token in (session_jwt, id_token):
        bearer = {"Authorization": f"Bearer {token}"}
        assert stranger.get("/oauth2/userinfo", headers=bearer).status_code == 401
        introspected = stranger.post("/oauth2/introspect", data={"token": token}, headers=basic)
        assert introspected.get_json() == {"active": False}
        assert stranger.get("/api/auth/get-session", headers=bearer).get_json() is None
        assert stranger.get("/api/auth/token", headers=bearer).status_code == 401


# -- the session cookie ---------------------------------------------------------------------------


def test_the_session_cookie_changed_at_any_position_reads_as_signed_out_and_changes_nothing(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    genuine = cookie_value(browser)
    assert genuine is not None
    before = snapshot(app)
    for index in sample_positions(len(genuine), 48):
        tampered = flip(genuine, index)
        attacker = app.test_client()
        attacker.set_cookie(SESSION_COOKIE, tampered)
        read = attacker.get("/api/auth/get-session")
        assert read.get_json() is None, index
        assert "Set-Cookie" not in read.headers, "a forged cookie is left alone, not cleared"
        for path in ("/api/auth/revoke-sessions", "/api/auth/sign-out", "/api/auth/update-user"):
            attacker.post(path, json={"name": "Mallory"}, headers=ORIGIN)
        assert attacker.get("/api/auth/token").status_code == 401
        assert attacker.get("/api/auth/list-sessions").status_code == 401
    assert snapshot(app) == before
    assert session_of(browser) is not None


def test_a_session_cookie_planted_before_sign_in_is_not_the_one_after(
    app: Flask, google: FakeGoogle
) -> None:
    """Session fixation: the attacker's own valid session, planted in the victim's browser."""
    attacker = signed_in(app)
    planted = cookie_value(attacker)
    assert planted is not None
    victim = app.test_client()
    victim.set_cookie(SESSION_COOKIE, planted)
    google.user = FakeUser(sub="victim-sub", email="victim@example.com", name="Victim")

    assert sign_in(victim, "google").status_code == 302

    after = cookie_value(victim)
    assert after is not None and after != planted
    assert session_of(victim)["user"]["email"] == "victim@example.com"
    assert session_of(attacker) is None, "the planted session was replaced, not kept"


@pytest.mark.parametrize(
    "planted", ["attacker-chosen-token", "attacker-chosen-token.c2lnbmF0dXJl", "x" * 43 + ".y"]
)
def test_a_forged_cookie_value_never_becomes_a_session(
    app: Flask, google: FakeGoogle, planted: str
) -> None:
    victim = app.test_client()
    victim.set_cookie(SESSION_COOKIE, planted)
    assert victim.get("/api/auth/get-session").get_json() is None

    assert sign_in(victim, "google").status_code == 302

    after = cookie_value(victim)
    assert after is not None and after != planted
    attacker = app.test_client()
    attacker.set_cookie(SESSION_COOKIE, planted)
    assert attacker.get("/api/auth/get-session").get_json() is None
    stored = stored_session_hashes(app)
    for candidate in (planted, planted.rpartition(".")[0]):
        assert token_hash(candidate) not in stored


def stored_session_hashes(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Session.token_hash)))


# -- CSRF on every state-changing endpoint --------------------------------------------------------

EXEMPT = {"api.callback", "api.dev_sign_in"}  # state protects the callback; dev only


def state_changing_api_endpoints(app: Flask) -> list[tuple[str, str]]:
    found = {
        (rule.endpoint, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/auth/")
        and "POST" in (rule.methods or set())
        and rule.endpoint not in EXEMPT
    }
    return sorted(found)


@dataclass
class World:
    """A user with something to lose at every endpoint: two linked accounts, a second session,
    a consent given to a third party."""

    browser: FlaskClient
    bodies: dict[str, dict[str, Any]]


def build_world(app: Flask, google: FakeGoogle) -> World:
    browser = signed_in(app)
    second = app.test_client()
    sign_in(second, "google")  # another device of the same user
    linked = browser.post("/api/auth/link-social", json={"provider": "twitch"}, headers=ORIGIN)
    back = visit_provider(linked.get_json()["url"])
    assert browser.get(path_and_query(back)).status_code == 302
    accounts = browser.get("/api/auth/list-accounts").get_json()
    assert len(accounts) == 2
    third_party = register(app, first_party=False)
    page = authorize(browser, AuthRequest(third_party))
    fields = form_fields(page)
    approved = browser.post(
        "/oauth2/consent", data=fields | {"decision": "approve"}, headers=ORIGIN
    )
    assert approved.status_code == 303
    session_id = session_of(browser)["session"]["id"]
    return World(
        browser=browser,
        bodies={
            "api.sign_in_social": {"provider": "google", "callbackURL": "/x"},
            "api.link_social": {"provider": "twitch"},
            "api.revoke_session": {"token": session_id},
            "api.unlink_account": {"accountId": accounts[1]["id"]},
            "api.update_user": {"name": "Mallory", "image": None},
            "api.revoke_consent": {"clientId": third_party.client_id},
        },
    )


CROSS_SITE: dict[str, tuple[dict[str, str], str]] = {
    "foreign-origin": ({"Origin": EVIL_ORIGIN}, "INVALID_ORIGIN"),
    "look-alike-origin": ({"Origin": "http://localhost.evil.example"}, "INVALID_ORIGIN"),
    "origin-with-userinfo": ({"Origin": "http://localhost@evil.example"}, "INVALID_ORIGIN"),
    "other-port": ({"Origin": "http://localhost:8080"}, "INVALID_ORIGIN"),
    "other-scheme": ({"Origin": "https://localhost"}, "INVALID_ORIGIN"),
    "no-origin": ({}, "MISSING_OR_NULL_ORIGIN"),
    "null-origin": ({"Origin": "null"}, "MISSING_OR_NULL_ORIGIN"),
    "foreign-referer": ({"Referer": f"{EVIL_ORIGIN}/page"}, "INVALID_ORIGIN"),
    "null-origin-foreign-referer": (
        {"Origin": "null", "Referer": f"{EVIL_ORIGIN}/"},
        "INVALID_ORIGIN",
    ),
    "unparsable-referer": ({"Referer": "http://localhost@evil.example/"}, "MISSING_OR_NULL_ORIGIN"),
}
BODIES_AS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "json": lambda body: {"json": body},
    "text-plain": lambda body: {"data": json.dumps(body), "content_type": "text/plain"},
    "form": lambda body: {"data": {k: str(v) for k, v in body.items()}},
}


def test_every_state_changing_api_endpoint_refuses_a_cross_site_request(
    app: Flask, google: FakeGoogle
) -> None:
    world = build_world(app, google)
    endpoints = state_changing_api_endpoints(app)
    assert len(endpoints) >= 9, endpoints  # sign-in, link, sign-out, 3 revokes, unlink, update…
    before = snapshot(app)
    wrong: list[str] = []
    for endpoint, path in endpoints:
        body = world.bodies.get(endpoint, {})
        for attack, (headers, code) in CROSS_SITE.items():
            for encoding, encode in BODIES_AS.items():
                response = world.browser.post(path, headers=headers, **encode(body))
                answer = response.get_json(silent=True) or {}
                if response.status_code != 403 or answer.get("code") != code:
                    wrong.append(f"{path} {attack} {encoding}: {response.status_code} {answer}")
                if "Set-Cookie" in response.headers:
                    wrong.append(f"{path} {attack} {encoding}: set a cookie")
    assert wrong == []
    assert snapshot(app) == before
    # The controls: from our own origin each request gets past the guard.
    for endpoint, path in endpoints:
        response = world.browser.post(path, json=world.bodies.get(endpoint, {}), headers=ORIGIN)
        assert response.get_json().get("code") not in ("INVALID_ORIGIN", "MISSING_OR_NULL_ORIGIN")


def test_a_cross_site_consent_is_refused_and_changes_nothing(
    app: Flask, google: FakeGoogle
) -> None:
    client = register(app, first_party=False)
    browser = signed_in(app)
    page = authorize(browser, AuthRequest(client))
    fields = form_fields(page)
    fields["decision"] = "approve"
    before = snapshot(app)
    for headers in (
        {"Origin": EVIL_ORIGIN},
        {"Referer": f"{EVIL_ORIGIN}/"},
        {"Origin": "null", "Referer": f"{EVIL_ORIGIN}/"},
        {"Origin": "null"},
        {},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "http://app.localhost:3000"},  # trusted for /api/auth, not for our forms
    ):
        response = browser.post("/oauth2/consent", data=fields, headers=headers)
        assert response.status_code == 403, headers
        assert "Location" not in response.headers
    assert snapshot(app) == before


def test_a_cross_site_logout_is_refused_and_changes_nothing(app: Flask, google: FakeGoogle) -> None:
    register(app)
    browser = signed_in(app)
    confirmation = browser.get("/oauth2/logout")
    fields = form_fields(confirmation)
    assert fields.get("csrf")
    before = snapshot(app)
    for headers in (
        {"Origin": EVIL_ORIGIN},
        {"Referer": f"{EVIL_ORIGIN}/"},
        {},
        {"Origin": "null"},
    ):
        with_token = browser.post("/oauth2/logout", data=fields, headers=headers)
        assert with_token.status_code == 403, headers
        without_token = browser.post("/oauth2/logout", data={}, headers=headers)
        assert without_token.status_code == 200  # the question again, nothing done
        assert 'action="/oauth2/logout"' in without_token.get_data(as_text=True)
    assert snapshot(app) == before
    assert session_of(browser) is not None
