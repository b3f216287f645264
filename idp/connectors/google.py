"""Google: OpenID Connect with Google's quirks.

- Google has issued ID tokens with ``iss`` = ``accounts.google.com`` (no scheme) as well as
  ``https://accounts.google.com``; both are valid (Google's OpenID Connect guide).
- The ``hd`` parameter only shapes Google's account chooser; the restriction is enforced on the
  ``hd`` claim of the verified ID token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.connectors.base import (
    HOSTED_DOMAIN_MISMATCH,
    AuthorizationRequest,
    ConnectorError,
    UpstreamIdentity,
)
from idp.connectors.oidc import OIDCConnector


class GoogleConnector(OIDCConnector):
    def accepted_issuers(self) -> tuple[str, ...]:
        issuer = self.metadata()["issuer"]
        legacy = issuer.removeprefix("https://").removeprefix("http://")
        return (issuer, legacy)

    def authorize_params(self, request: AuthorizationRequest) -> dict[str, str]:
        params = {"access_type": "online", "include_granted_scopes": "false"}
        if self.settings.hosted_domain:
            params["hd"] = self.settings.hosted_domain
        return params

    def identity(self, claims: Mapping[str, Any], token: Mapping[str, Any]) -> UpstreamIdentity:
        domain = self.settings.hosted_domain
        if domain and claims.get("hd") != domain:
            raise ConnectorError(HOSTED_DOMAIN_MISMATCH, "hd claim is not the configured domain")
        return super().identity(claims, token)
