"""Signing and verifying our JWTs with joserfc, with every decision explicit."""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from idp.keys.crypto import SigningJWK

ALGORITHMS = ("RS256", "ES256", "EdDSA")


class _EdDSA(EdDSAAlgorithm):
    # RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519", but the verifiers
    # our integrators use (jose in Node, PyJWT) know "EdDSA"; the algorithm itself is Ed25519.
    security_warning = ""


class _Registry(JWSRegistry):
    algorithms = {**JWSRegistry.algorithms, "EdDSA": _EdDSA()}


# Only our three asymmetric algorithms: never "none", never HMAC keyed with a public key.
REGISTRY = _Registry(algorithms=list(ALGORITHMS))


class TokenError(Exception):
    """A JWT failed verification; the message says which check (safe to log)."""


def sign(claims: dict[str, Any], *, key: SigningJWK, alg: str, typ: str = "JWT") -> str:
    header = {"alg": alg, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key, registry=REGISTRY)


def verify_signature(token: str, keys: KeySet) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT signed by one of ``keys``; claims are not checked here."""
    try:
        decoded = jwt.decode(token, keys, registry=REGISTRY)
    except (JoseError, ValueError, TypeError) as exc:
        raise TokenError(f"signature: {type(exc).__name__}") from None
    header = dict(decoded.header)
    if header.get("jku") or header.get("x5u") or header.get("jwk"):
        # Keys come from our own store only, never from the token.
        raise TokenError("header names an outside key")
    return header, dict(decoded.claims)
