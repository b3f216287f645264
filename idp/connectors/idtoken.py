"""ID token validation for upstream providers (OpenID Connect Core 1.0, section 3.1.3.7)."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.security.secrets import constant_time_equals

# Asymmetric algorithms only: "none" and HMAC (keyed with a public value) are never accepted.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
DEFAULT_LEEWAY = 60


class IdTokenError(Exception):
    """The ID token failed one check; the message names which (safe for logs)."""


def _seconds(value: object) -> float | None:
    """A real, finite number of seconds, or None (NaN compares false with everything)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def token_header(id_token: str) -> dict[str, Any]:
    """The unverified JOSE header, to pick a key by ``kid``. Nothing else may be trusted yet."""
    try:
        return dict(jws.extract_compact(id_token.encode("ascii")).headers())
    except (JoseError, ValueError, TypeError, UnicodeEncodeError) as exc:
        raise IdTokenError("malformed ID token") from exc


def verify_id_token(
    id_token: str,
    *,
    keys: KeySet,
    issuers: Collection[str],
    client_id: str,
    nonce: str,
    now: int,
    leeway: int = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """Verify signature and claims; return the claims.

    - 3.1.3.7 (6): the signature, with a key from the provider's JWKS and an allowed algorithm;
    - (2) ``iss`` is the provider's issuer; (3) ``aud`` contains our client id and no audience
      we do not trust; (4)/(5) ``azp``, when present, is our client id;
    - (9) ``exp`` is in the future and (10) ``iat`` is not in the future, within ``leeway``;
    - (11) ``nonce`` equals the one we sent (3.1.2.1), compared in constant time.
    """
    header = token_header(id_token)
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise IdTokenError(f"algorithm {header.get('alg')!r} is not allowed")
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ALLOWED_ALGORITHMS))
    except (JoseError, ValueError, TypeError) as exc:  # TypeError: a header of the wrong type
        raise IdTokenError(f"signature: {type(exc).__name__}") from exc
    claims = dict(token.claims)

    if claims.get("iss") not in issuers:
        raise IdTokenError("iss is not the provider's issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise IdTokenError("aud does not name this client")
    if any(aud != client_id for aud in audiences):
        raise IdTokenError("aud names another audience")
    if "azp" in claims and claims["azp"] != client_id:
        raise IdTokenError("azp is not this client")
    exp, iat = claims.get("exp"), claims.get("iat")
    expires, issued = _seconds(exp), _seconds(iat)
    if expires is None or expires + leeway <= now:
        raise IdTokenError("expired")
    if issued is None or issued - leeway > now:
        raise IdTokenError("iat is in the future")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not constant_time_equals(token_nonce, nonce):
        raise IdTokenError("nonce does not match")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise IdTokenError("sub is missing or malformed")
    return claims
