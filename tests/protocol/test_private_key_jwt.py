"""``private_key_jwt`` (RFC 7523 2.2, OpenID Connect Core 9): a client registers its public keys
and proves itself at the token, revocation and introspection endpoints with a JWT it signs, so
that no shared secret exists to leak. Each assertion is accepted once."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from werkzeug.test import TestResponse

from idp.keys import jose
from idp.models import ClientAssertion
from idp.security.secrets import b64url
from tests.conftest import FrozenClock
from tests.helpers import BASE_URL, row_count, signed_in
from tests.oidc_helpers import (
    AuthRequest,
    RegisteredClient,
    authorize,
    basic_auth,
    code_from,
    register,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_ENDPOINT = f"{BASE_URL}/oauth2/token"

Key = RSAKey | ECKey | OKPKey


def new_key(alg: str, kid: str | None = None) -> Key:
    key: Key
    if alg == "RS256":
        key = RSAKey.generate_key(2048, parameters={"kid": kid} if kid else None)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", parameters={"kid": kid} if kid else None)
    else:
        key = OKPKey.generate_key("Ed25519", parameters={"kid": kid} if kid else None)
    return key


def jwks_file(tmp_path: Path, *keys: Key | dict[str, Any]) -> str:
    document = {"keys": [k if isinstance(k, dict) else k.as_dict(private=False) for k in keys]}
    path = tmp_path / f"jwks-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(document))
    return str(path)


def key_client(
    app: Flask, tmp_path: Path, *keys: Key, grant_types: tuple[str, ...] = ()
) -> RegisteredClient:
    args = ["--auth-method", "private_key_jwt", "--jwks", jwks_file(tmp_path, *keys)]
    for grant in grant_types:
        args += ["--grant-type", grant]
    client = register(app, *args)
    assert client.client_secret is None
    return client


def es256_service(app: Flask, tmp_path: Path) -> tuple[Key, RegisteredClient]:
    """A service (client_credentials) that signs with a P-256 key: the usual case."""
    key = new_key("ES256")
    return key, key_client(app, tmp_path, key, grant_types=("client_credentials",))


def assertion(
    client_id: str,
    key: Key,
    clock: FrozenClock,
    *,
    alg: str = "RS256",
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    now = int(clock.timestamp())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_ENDPOINT,
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(16),
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    protected = {"alg": alg, **({"kid": key.kid} if key.kid else {}), **(header or {})}
    # Serialized by hand, as any JSON library would (a lone surrogate goes out as its escape),
    # and signed through our registry (EdDSA without a warning).
    payload = json.dumps(body).encode()
    return jws.serialize_compact(protected, payload, key, registry=jose.REGISTRY)


def post(browser: FlaskClient, path: str, signed: str, **form: str) -> TestResponse:
    return browser.post(
        path,
        data={"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, **form},
    )


def credentials(browser: FlaskClient, signed: str, **form: str) -> TestResponse:
    return post(browser, "/oauth2/token", signed, grant_type="client_credentials", **form)


def refused(answer: TestResponse, status: int = 400) -> str:
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["error"] == "invalid_client", body
    assert "access_token" not in body
    return str(body.get("error_description", ""))


# -- what works -------------------------------------------------------------------------------


def test_discovery_names_the_method_and_its_algorithms(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()
    for endpoint in ("token", "revocation", "introspection"):
        assert "private_key_jwt" in document[f"{endpoint}_endpoint_auth_methods_supported"]
        algs = document[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert algs == ["RS256", "ES256", "EdDSA"]


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_service_gets_a_token_with_an_assertion_signed_by_its_key(
    app: Flask, tmp_path: Path, clock: FrozenClock, alg: str
) -> None:
    key = new_key(alg, kid="k1")
    service = key_client(app, tmp_path, key, grant_types=("client_credentials",))
    browser = app.test_client()

    answer = credentials(browser, assertion(service.client_id, key, clock, alg=alg))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    token = answer.get_json()["access_token"]
    looked = post(
        browser,
        "/oauth2/introspect",
        assertion(service.client_id, key, clock, alg=alg),
        token=token,
    ).get_json()
    assert looked["active"] is True
    assert looked["client_id"] == service.client_id


def test_the_audience_may_be_the_issuer_or_a_list_naming_the_token_endpoint(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    key, service = es256_service(app, tmp_path)
    browser = app.test_client()
    for audience in (BASE_URL, ["https://elsewhere.example", TOKEN_ENDPOINT]):
        signed = assertion(service.client_id, key, clock, alg="ES256", aud=audience)
        assert credentials(browser, signed).status_code == 200


def test_a_user_facing_client_redeems_codes_refreshes_and_revokes_with_assertions(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    key = new_key("RS256", kid="rp-1")
    rp = key_client(app, tmp_path, key)
    browser = signed_in(app)
    request = AuthRequest(rp, scope="openid offline_access")
    code = code_from(authorize(browser, request), request)
    assert request.verifier is not None

    redeemed = post(
        browser,
        "/oauth2/token",
        assertion(rp.client_id, key, clock),
        grant_type="authorization_code",
        code=code,
        redirect_uri=rp.redirect_uri,
        code_verifier=request.verifier,
        client_id=rp.client_id,  # optional, and must then be the assertion's subject
    )
    assert redeemed.status_code == 200, redeemed.get_data(as_text=True)
    refreshed = post(
        browser,
        "/oauth2/token",
        assertion(rp.client_id, key, clock),
        grant_type="refresh_token",
        refresh_token=redeemed.get_json()["refresh_token"],
    )
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    assert "id_token" in refreshed.get_json()

    revoked = post(
        browser,
        "/oauth2/revoke",
        assertion(rp.client_id, key, clock),
        token=refreshed.get_json()["refresh_token"],
    )
    assert revoked.status_code == 200
    again = post(
        browser,
        "/oauth2/token",
        assertion(rp.client_id, key, clock),
        grant_type="refresh_token",
        refresh_token=refreshed.get_json()["refresh_token"],
    )
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"


# -- what is refused --------------------------------------------------------------------------


def test_an_assertion_is_accepted_once(app: Flask, tmp_path: Path, clock: FrozenClock) -> None:
    key, service = es256_service(app, tmp_path)
    browser = app.test_client()
    signed = assertion(service.client_id, key, clock, alg="ES256", jti="once")

    assert credentials(browser, signed).status_code == 200
    assert "used before" in refused(credentials(browser, signed))
    # A new assertion with the same jti is the same assertion, as far as replay goes.
    assert "used before" in refused(
        credentials(browser, assertion(service.client_id, key, clock, alg="ES256", jti="once"))
    )
    # The same jti from another client is that client's business: only the pair is unique.
    other_key = new_key("ES256")
    other = key_client(app, tmp_path, other_key, grant_types=("client_credentials",))
    reused = assertion(other.client_id, other_key, clock, alg="ES256", jti="once")
    assert credentials(browser, reused).status_code == 200


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"iss": "someone-else"}, "iss and sub"),
        ({"aud": "https://elsewhere.example/token"}, "aud"),
        ({"aud": None}, "aud"),
        ({"exp": None}, "exp is required"),
        ({"exp": -120}, "expired"),
        ({"exp": 3600 + 61 + 60}, "at most 3600 seconds"),
        ({"iat": 120}, "iat"),
        ({"nbf": 120}, "nbf"),
        ({"jti": None}, "jti is required"),
        ({"jti": "x" * 257}, "jti is required"),
        # What only the key's holder could send, and must still be the client's error:
        ({"jti": "\udc80"}, "jti is required"),  # a lone surrogate, spelled in JSON
        ({"exp": float("nan")}, "exp is required"),
        ({"exp": float("inf")}, "exp is required"),
        ({"iat": float("nan")}, "iat"),
        ({"nbf": float("nan")}, "nbf"),
    ],
)
def test_an_assertion_with_wrong_claims_is_refused(
    app: Flask, tmp_path: Path, clock: FrozenClock, changes: dict[str, Any], says: str
) -> None:
    key, service = es256_service(app, tmp_path)
    now = int(clock.timestamp())
    claims = {
        name: (now + value if name in ("exp", "iat", "nbf") and value is not None else value)
        for name, value in changes.items()
    }
    signed = assertion(service.client_id, key, clock, alg="ES256", **claims)
    assert says in refused(credentials(app.test_client(), signed))


def test_a_signature_by_any_other_key_or_algorithm_is_refused(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    key = new_key("RS256", kid="mine")
    service = key_client(app, tmp_path, key, grant_types=("client_credentials",))
    browser = app.test_client()
    stranger = new_key("RS256", kid="mine")  # the same kid, another key
    assert "not signed by a key" in refused(
        credentials(browser, assertion(service.client_id, stranger, clock))
    )
    # HMAC keyed with the public key's bytes, the classic confusion (made by hand: joserfc
    # itself refuses to build such a key). Never accepted.
    now = int(clock.timestamp())
    claims = {
        "iss": service.client_id,
        "sub": service.client_id,
        "aud": TOKEN_ENDPOINT,
        "exp": now + 300,
        "jti": "forged",
    }
    signing_input = ".".join(
        b64url(json.dumps(part).encode()) for part in ({"alg": "HS256", "kid": "mine"}, claims)
    )
    mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64url(mac)}"
    refused(credentials(browser, forged))
    # A key carried in the header is never used.
    carried = assertion(
        service.client_id, stranger, clock, header={"jwk": stranger.as_dict(private=False)}
    )
    refused(credentials(browser, carried))
    # Unsigned.
    head, body, _ = assertion(service.client_id, key, clock).split(".")
    refused(credentials(browser, f"{head}.{body}."))
    refused(credentials(browser, "not a jwt"))


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 6000,
        b'{"sub": ' + b"[" * 6000 + b"}",
        b"\xff\xfe",
        b"null",
        b'{"sub": 7}',
        b'{"sub": "\\ud800"}',  # JSON's spelling of a lone surrogate: no database takes it
    ],
)
def test_a_malformed_assertion_is_the_clients_error_never_ours(app: Flask, payload: bytes) -> None:
    head = b64url(b'{"alg": "ES256"}')
    answer = credentials(app.test_client(), f"{head}.{b64url(payload)}.c2ln")
    refused(answer)


def test_one_request_uses_one_authentication_method(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    """RFC 6749 2.3: a secret beside an assertion is refused, even when either would do."""
    key, service = es256_service(app, tmp_path)
    secretive = register(app, "--grant-type", "client_credentials")
    browser = app.test_client()
    both = [
        credentials(
            browser,
            assertion(service.client_id, key, clock, alg="ES256"),
            client_secret=str(secretive.client_secret),
        ),
        browser.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion(service.client_id, key, clock, alg="ES256"),
            },
            headers=basic_auth(secretive),
        ),
    ]
    for answer in both:
        assert "more than one" in refused(answer)


def test_the_client_id_parameter_must_be_the_assertions_subject(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    key, service = es256_service(app, tmp_path)
    other = register(app, "--grant-type", "client_credentials")
    signed = assertion(service.client_id, key, clock, alg="ES256")
    answer = credentials(app.test_client(), signed, client_id=other.client_id)
    assert "subject" in refused(answer)


def test_each_client_authenticates_only_the_way_it_registered(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    key, service = es256_service(app, tmp_path)
    secretive = register(app, "--grant-type", "client_credentials")
    browser = app.test_client()
    # A client with a secret cannot switch to assertions (it has no keys)...
    refused(credentials(browser, assertion(secretive.client_id, key, clock, alg="ES256")))
    # ...and a client with keys cannot pass as a public client by naming itself.
    bare = browser.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": service.client_id}
    )
    refused(bare, 401)
    fake_secret = browser.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(RegisteredClient(service.client_id, "guess")),
    )
    refused(fake_secret, 401)


# -- registration -----------------------------------------------------------------------------


def test_the_cli_registers_shows_and_replaces_a_clients_keys(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    old = new_key("ES256", kid="2026-11")
    service = key_client(app, tmp_path, old, grant_types=("client_credentials",))
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["clients", "show", service.client_id])
    assert "private_key_jwt" in shown.output
    assert "2026-11" in shown.output
    assert '"x"' not in shown.output  # key ids, not whole keys

    new = new_key("ES256", kid="2026-12")
    both = runner.invoke(
        args=["clients", "update", service.client_id, "--jwks", jwks_file(tmp_path, old, new)]
    )
    assert both.exit_code == 0, both.output
    browser = app.test_client()
    for key in (old, new):
        assert (
            credentials(browser, assertion(service.client_id, key, clock, alg="ES256")).status_code
            == 200
        )
    only_new = runner.invoke(
        args=["clients", "update", service.client_id, "--jwks", jwks_file(tmp_path, new)]
    )
    assert only_new.exit_code == 0, only_new.output
    refused(credentials(browser, assertion(service.client_id, old, clock, alg="ES256")))
    assert (
        credentials(browser, assertion(service.client_id, new, clock, alg="ES256")).status_code
        == 200
    )

    no_secret = runner.invoke(args=["clients", "rotate-secret", service.client_id])
    assert no_secret.exit_code != 0
    assert "no secret" in no_secret.output


def small_rsa() -> dict[str, Any]:
    """A 1024-bit RSA public JWK (made by hand: joserfc warns at such a size)."""
    small = rsa.generate_private_key(65537, 1024)  # noqa: S505  (the weak key to refuse)
    numbers = small.public_key().public_numbers()

    def encoded(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "n": encoded(numbers.n), "e": encoded(numbers.e), "kid": "small"}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (lambda: {"keys": []}, "non-empty"),
        (lambda: [1, 2], "non-empty"),
        (lambda: {"keys": [new_key("ES256", kid="a").as_dict(private=True)]}, "private key"),
        (lambda: {"keys": [small_rsa()]}, "at least 2048 bits"),
        (lambda: {"keys": [ECKey.generate_key("P-384").as_dict(private=False)]}, "P-256"),
        (lambda: {"keys": [OctKey.generate_key(256).as_dict(private=False)]}, "private key"),
        (lambda: {"keys": [{"kty": "oct-ish", "kid": "x"}]}, "RSA, EC"),
        (lambda: {"keys": [{**new_key("ES256").as_dict(private=False), "kid": 7}]}, "a kid must"),
        (
            lambda: {"keys": [{**new_key("ES256").as_dict(private=False), "use": "enc"}]},
            '"use": "sig"',
        ),
        (
            lambda: {"keys": [{**new_key("ES256").as_dict(private=False), "alg": "HS256"}]},
            "alg must be one of",
        ),
        (
            lambda: {
                "keys": [
                    new_key("ES256", kid="same").as_dict(private=False),
                    new_key("ES256", kid="same").as_dict(private=False),
                ]
            },
            "kid of its own",
        ),
        (lambda: {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "x"}]}, "not a valid"),
        (lambda: {"keys": [{"kty": "EC", "crv": "P-256", "x": "bad", "y": "bad"}]}, "not a valid"),
    ],
)
def test_the_cli_refuses_keys_it_cannot_trust(
    app: Flask, tmp_path: Path, document: Any, says: str
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document()))
    result = app.test_cli_runner().invoke(
        args=[
            "clients",
            "create",
            "--name",
            "svc",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            str(path),
        ]
    )
    assert result.exit_code != 0
    assert says in result.output


def test_keys_go_only_with_private_key_jwt(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    base = ["clients", "create", "--name", "svc", "--grant-type", "client_credentials"]
    without = runner.invoke(args=[*base, "--auth-method", "private_key_jwt"])
    assert without.exit_code != 0
    assert "needs its public keys" in without.output
    stray = runner.invoke(args=[*base, "--jwks", jwks_file(tmp_path, new_key("ES256"))])
    assert stray.exit_code != 0
    assert "only a private_key_jwt client" in stray.output
    public = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "spa",
            "--public",
            "--redirect-uri",
            "https://spa.example/cb",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            jwks_file(tmp_path, new_key("ES256")),
        ]
    )
    assert public.exit_code != 0
    assert "a public client has no credentials" in public.output
    not_json = tmp_path / "nope.json"
    not_json.write_text("{")
    broken = runner.invoke(
        args=[*base, "--auth-method", "private_key_jwt", "--jwks", str(not_json)]
    )
    assert "not JSON" in broken.output


def test_spent_assertions_are_pruned_once_they_expire(
    app: Flask, tmp_path: Path, clock: FrozenClock
) -> None:
    key, service = es256_service(app, tmp_path)
    browser = app.test_client()
    assert (
        credentials(browser, assertion(service.client_id, key, clock, alg="ES256")).status_code
        == 200
    )
    runner = app.test_cli_runner()

    kept = json.loads(runner.invoke(args=["data", "prune", "--json"]).output)
    assert kept["client_assertions"] == 0
    assert row_count(app, ClientAssertion) == 1
    clock.advance(300 + 60 + 1)  # past exp and the leeway: it could no longer be accepted
    pruned = json.loads(runner.invoke(args=["data", "prune", "--json"]).output)
    assert pruned["client_assertions"] == 1
    assert row_count(app, ClientAssertion) == 0
