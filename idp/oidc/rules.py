"""Protocol rules of our OpenID provider, as pure functions over plain values.

Each cites the section it comes from (OpenID Connect Core 1.0 unless stated otherwise).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from idp.security.text import storable

SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access", "chat")
PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})
# 5.4: which claims each scope releases ("chat" is ours: the presentation of a user in chat).
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "profile": ("name", "preferred_username", "picture", "updated_at"),
    "email": ("email", "email_verified"),
    "chat": ("name_color", "badges", "flair", "role"),
}
SUPPORTED_CLAIMS = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "at_hash",
    "sid",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
)


class RequestError(ValueError):
    """A malformed authorization parameter: answered with ``invalid_request``."""


def parse_prompt(value: str | None) -> frozenset[str]:
    """3.1.2.1: a space-delimited set; ``none`` must stand alone."""
    prompts = frozenset((value or "").split())
    unknown = prompts - PROMPT_VALUES
    if unknown:
        raise RequestError(f"unsupported prompt value {sorted(unknown)[0]!r}")
    if "none" in prompts and len(prompts) > 1:
        raise RequestError("prompt=none cannot be combined with other values")
    return prompts


def parse_max_age(value: str | None) -> int | None:
    """3.1.2.1: a non-negative number of seconds."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 10:  # not "²", "٣"
        raise RequestError("max_age must be a non-negative integer")
    return int(value)


def login_is_stale(auth_time: datetime, now: datetime, max_age: int | None) -> bool:
    """3.1.2.1: with max_age, the user must re-authenticate once it has passed since auth_time."""
    return max_age is not None and now - auth_time > timedelta(seconds=max_age)


@dataclass(frozen=True)
class LoginDecision:
    sign_in: bool  # send the user to sign in (again)
    error: str | None = None  # or answer the client with this error (prompt=none)


def decide_login(
    *,
    prompts: frozenset[str],
    signed_in_user: str | None,
    auth_time: datetime | None,
    now: datetime,
    max_age: int | None,
    hinted_subject: str | None,
) -> LoginDecision:
    """Whether the user must (re-)authenticate before the authorization can go on.

    ``prompt=login`` and ``select_account`` always ask; ``max_age`` asks when the login is older;
    an ``id_token_hint`` for someone else asks (3.1.2.1). With ``prompt=none`` each of these is
    an error instead: ``login_required`` (3.1.2.6).
    """
    must_sign_in = (
        signed_in_user is None
        or bool(prompts & {"login", "select_account"})
        or (auth_time is not None and login_is_stale(auth_time, now, max_age))
        or (hinted_subject is not None and hinted_subject != signed_in_user)
    )
    if not must_sign_in:
        return LoginDecision(sign_in=False)
    if "none" in prompts:
        return LoginDecision(sign_in=False, error="login_required")
    return LoginDecision(sign_in=True)


def needs_consent(
    *,
    first_party: bool,
    prompts: frozenset[str],
    requested: Collection[str],
    granted: Collection[str],
) -> bool:
    """Third-party clients need the user's consent for every scope not granted before."""
    if first_party:
        return False
    return "consent" in prompts or not set(requested) <= set(granted)


def parse_claims_request(value: str | None) -> dict[str, dict[str, Any]]:
    """5.5: the ``claims`` parameter, keeping only the ``id_token`` and ``userinfo`` members."""
    if not value:
        return {}
    if len(value) > 4096:
        raise RequestError("claims parameter too large")
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise RequestError("claims must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise RequestError("claims must be a JSON object")
    request: dict[str, dict[str, Any]] = {}
    for target in ("id_token", "userinfo"):
        member = parsed.get(target)
        if member is None:
            continue
        if not isinstance(member, dict) or not all(
            v is None or isinstance(v, dict) for v in member.values()
        ):
            raise RequestError(f"claims.{target} must be an object of claim requests")
        request[target] = {str(k): v for k, v in member.items()}
    return request


def claims_within(
    claims_request: dict[str, dict[str, Any]], allowed_scopes: Collection[str]
) -> dict[str, dict[str, Any]]:
    """Drop claims asked for by name that belong to a scope the client may not have: the
    ``claims`` parameter refines what the scopes release, it never widens the client's reach."""
    scoped = claims_for_scopes(SUPPORTED_SCOPES)
    allowed = claims_for_scopes(allowed_scopes)
    return {
        target: {n: v for n, v in member.items() if n in allowed or n not in scoped}
        for target, member in claims_request.items()
    }


def claims_for_scopes(scopes: Collection[str]) -> set[str]:
    return {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}


def requested_claims(claims_request: Mapping[str, Mapping[str, Any]], target: str) -> set[str]:
    """Claims the client asked for by name for ``target`` (5.5.1), among those we support."""
    return {name for name in claims_request.get(target, {}) if name in SUPPORTED_CLAIMS}


def released_claims(
    scopes: Collection[str], claims_request: Mapping[str, Mapping[str, Any]], target: str
) -> set[str]:
    """What a token or userinfo response may carry: the scopes' claims and any asked by name.

    Claims asked by name are shown on the consent page like scopes, so releasing them is
    covered by the user's consent.
    """
    return claims_for_scopes(scopes) | requested_claims(claims_request, target)


def redirect_uri_registered(uri: str, registered: Collection[str]) -> bool:
    """Exact string comparison (3.1.2.1; RFC 9700 section 2.1): no prefixes, no patterns."""
    return uri in registered


def reuse_forgiven(spent_at: datetime, now: datetime, grace: int) -> bool:
    """A refresh token spent ``grace`` seconds ago or less may be presented again by its client
    (two tabs refreshing at once); later, or with no grace window (0), it is reuse, which
    revokes the grant (RFC 9700 4.14.2)."""
    return grace > 0 and now - spent_at <= timedelta(seconds=grace)


# RFC 7523 3 and Core 9 (private_key_jwt): how far the clocks may disagree, and how long ahead
# an assertion may expire (its jti is kept until then, so this bounds that table too).
ASSERTION_LEEWAY = 60
ASSERTION_MAX_LIFETIME = 3600
MAX_JTI_LENGTH = 256


def _numeric_date(value: Any) -> TypeGuard[int | float]:
    """RFC 7519 2: a number of seconds; JSON parsers also accept NaN and Infinity, never dates."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def client_assertion_problem(
    claims: Mapping[str, Any], *, client_id: str, audiences: Collection[str], now: float
) -> str | None:
    """What is wrong with the claims of a client's signed assertion (its signature checked
    already), or None. RFC 7523 3: ``iss`` and ``sub`` are the client, ``aud`` names this
    server, ``exp`` is required and not passed; ``nbf`` and ``iat`` are not in the future.
    Core 9 and RFC 7523 3: ``jti`` is required (:func:`store.first_use_of_assertion` then
    accepts it once), and ``exp`` may be at most an hour ahead."""
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return "iss and sub must both be the client_id"
    audience = claims.get("aud")
    named = [audience] if isinstance(audience, str) else audience
    if not isinstance(named, list) or not any(a in audiences for a in named if isinstance(a, str)):
        return "aud must name this server: its issuer, or the endpoint called"
    expires = claims.get("exp")
    if not _numeric_date(expires):
        return "exp is required"
    if expires <= now - ASSERTION_LEEWAY:
        return "the assertion has expired"
    if expires > now + ASSERTION_MAX_LIFETIME + ASSERTION_LEEWAY:
        return f"exp may be at most {ASSERTION_MAX_LIFETIME} seconds ahead"
    for name in ("nbf", "iat"):
        if name in claims and (
            not _numeric_date(claims[name]) or claims[name] > now + ASSERTION_LEEWAY
        ):
            return f"{name} must be a time that has come"
    jti = claims.get("jti")
    if not storable(jti) or not jti or len(jti) > MAX_JTI_LENGTH:
        return f"jti is required: a unique string of at most {MAX_JTI_LENGTH} characters"
    return None
