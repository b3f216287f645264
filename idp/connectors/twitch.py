"""Twitch: OpenID Connect with Twitch's quirks.

- The token endpoint takes ``client_secret_post`` only, and does not implement PKCE.
- ``email``, ``email_verified`` and ``picture`` are released only when asked for through the
  ``claims`` parameter (Core 5.5), and ``email`` only with the ``user:read:email`` scope.
- Token responses carry ``scope`` as a JSON array; errors are ``{"status","message"}`` without an
  ``error`` member (handled by :meth:`OIDCConnector.check_token_response`).
- Twitch requires apps that keep its access tokens to validate them hourly. We use the tokens
  once, to read the ID token, and never store them, so there is nothing to validate.
"""

from __future__ import annotations

from idp.connectors.base import AuthorizationRequest
from idp.connectors.oidc import OIDCConnector, claims_request

TWITCH_CLAIMS = ["email", "email_verified", "picture", "preferred_username"]


class TwitchConnector(OIDCConnector):
    def authorize_params(self, request: AuthorizationRequest) -> dict[str, str]:
        return {"claims": claims_request(TWITCH_CLAIMS)}
