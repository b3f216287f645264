"""The connector interface every upstream provider implements.

Connectors receive plain parameters (never ``flask.request``) and return plain values, so the
sign-in flow can be tested against any of them, and all of them against one contract test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AuthorizationRequest:
    """What the sign-in flow asks a connector to send upstream."""

    redirect_uri: str
    state: str
    nonce: str
    code_verifier: str | None
    login_hint: str | None = None
    extra_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who the upstream says the user is, after every check has passed."""

    provider_id: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    image: str | None
    username: str | None = None
    scope: str | None = None


class ConnectorError(Exception):
    """The upstream's answer cannot be used. ``code`` becomes ``?error=`` on the error redirect.

    ``detail`` is for our logs only: it never reaches the browser and never holds a secret.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# The codes a connector may raise, shared with the error page and docs/api.md. Where Better
# Auth has a code for the same failure, it is Better Auth's.
ACCESS_DENIED = "access_denied"
NO_CODE = "no_code"
UPSTREAM_ERROR = "upstream_error"
INVALID_CODE = "invalid_code"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
INVALID_UPSTREAM_RESPONSE = "invalid_upstream_response"
INVALID_ID_TOKEN = "invalid_id_token"  # noqa: S105  (a name, not a secret)
ISSUER_MISMATCH = "issuer_mismatch"
HOSTED_DOMAIN_MISMATCH = "hosted_domain_mismatch"


class Connector(Protocol):
    id: str
    name: str
    trust_email: bool
    uses_pkce: bool

    def authorization_url(self, request: AuthorizationRequest) -> str:
        """The upstream URL the browser is sent to."""

    def exchange(
        self,
        *,
        params: Mapping[str, str],
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str,
    ) -> UpstreamIdentity:
        """Turn the callback's parameters into a verified identity, or raise ConnectorError.

        ``params`` are the callback's query (or form_post) parameters; ``state`` has already
        been checked by the caller.
        """


def upstream_error_code(error: str) -> str:
    """The provider's own ``error`` (RFC 6749 4.1.2.1), passed on when it is a plain code."""
    if 0 < len(error) <= 64 and all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in error):
        return error
    return UPSTREAM_ERROR
