"""ID token validation (OpenID Connect Core 3.1.3.7), against keys made here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idp.connectors.idtoken import IdTokenError, verify_id_token

NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": "https://issuer.example",
        "sub": "s1",
        "aud": "client",
        "exp": NOW + 600,
        "iat": NOW,
        "nonce": "n1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def token(body: dict[str, Any], key: Any = KEY, alg: str = "RS256", kid: str = "k1") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, body, key, algorithms=[alg])


def verify(value: str) -> dict[str, Any]:
    return verify_id_token(
        value,
        keys=KEYS,
        issuers=["https://issuer.example"],
        client_id="client",
        nonce="n1",
        now=NOW,
    )


def test_a_valid_token_gives_its_claims() -> None:
    assert verify(token(claims()))["sub"] == "s1"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://other.example"}, "iss"),
        ({"aud": "other"}, "aud"),
        ({"aud": ["client", "other"]}, "another audience"),
        ({"azp": "other"}, "azp"),
        ({"exp": NOW - 61}, "expired"),
        ({"exp": None}, "expired"),
        ({"iat": NOW + 120}, "future"),
        ({"nonce": "n2"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "sub"),
        ({"sub": 5}, "sub"),
    ],
)
def test_each_claim_rule_refuses_a_token(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(IdTokenError, match=reason):
        verify(token(claims(**changes)))


def test_leeway_accepts_small_clock_skew() -> None:
    assert verify(token(claims(exp=NOW - 30, iat=NOW + 30)))["sub"] == "s1"


def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(IdTokenError, match="signature"):
        verify(token(claims(), key=RSAKey.generate_key(2048)))


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    with pytest.raises(IdTokenError, match="not allowed"):
        verify(f"{header}.{body}.")


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    public_pem = KEY.as_pem(private=False)
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = _b64(json.dumps(claims()).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(IdTokenError, match="not allowed"):
        verify(f"{header}.{body}.{signature}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("value", ["", "a.b", "not a token", "a.b.c.d"])
def test_malformed_tokens_are_refused(value: str) -> None:
    with pytest.raises(IdTokenError):
        verify(value)


@pytest.mark.parametrize("field", ["exp", "iat"])
def test_a_non_finite_time_is_refused(field: str) -> None:
    body = claims()
    body[field] = float("nan")
    signed = jwt.encode({"alg": "RS256", "kid": "k1"}, body, KEY, algorithms=["RS256"])
    with pytest.raises(IdTokenError):
        verify(signed)
