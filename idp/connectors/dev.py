"""The development connector: sign in as any test user, with no upstream at all.

It exists only when ``IDP_DEV_CONNECTOR`` is on (the default in development) and production
refuses to start with it. It runs through the same sign-in flow as a real provider: its page
(``/api/auth/dev/sign-in``) hands back a short-lived code signed with our secret, which the
callback exchanges like an upstream authorization code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from idp.connectors.base import (
    ACCESS_DENIED,
    INVALID_CODE,
    NO_CODE,
    AuthorizationRequest,
    ConnectorError,
    UpstreamIdentity,
)
from idp.runtime import Clock
from idp.security.secrets import b64url, constant_time_equals, derive_key, sign, unsign

CODE_TTL = 120


@dataclass(frozen=True)
class DevUser:
    subject: str
    name: str
    email: str | None
    email_verified: bool


class DevConnector:
    id = "dev"
    name = "Development sign-in"
    # Development only (production refuses this connector): a developer may sign in as anyone,
    # and trusting the "verified" box lets them exercise account linking.
    trust_email = True
    uses_pkce = False

    def __init__(self, *, base_url: str, secret_key: str, clock: Clock) -> None:
        self._page_url = base_url + "/api/auth/dev/sign-in"
        self._key = derive_key(secret_key, "dev-connector-code")
        self._clock = clock

    def authorization_url(self, request: AuthorizationRequest) -> str:
        query = {
            "state": request.state,
            "nonce": request.nonce,
            "redirect_uri": request.redirect_uri,
        }
        if request.login_hint:
            query["login_hint"] = request.login_hint
        return f"{self._page_url}?{urlencode(query)}"

    def issue_code(self, user: DevUser, *, nonce: str, redirect_uri: str) -> str:
        """Called by the dev sign-in page once the developer has chosen a user."""
        payload = {
            "user": asdict(user),
            "nonce": nonce,
            "redirect_uri": redirect_uri,
            "exp": int(self._clock().timestamp()) + CODE_TTL,
        }
        return sign(b64url(json.dumps(payload, separators=(",", ":")).encode()), self._key)

    def exchange(
        self,
        *,
        params: Mapping[str, str],
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str,
    ) -> UpstreamIdentity:
        if params.get("error") == "access_denied":
            raise ConnectorError(ACCESS_DENIED, "developer cancelled")
        if not params.get("code"):
            raise ConnectorError(NO_CODE, "callback without code")
        encoded = unsign(params["code"], self._key)
        if encoded is None:
            raise ConnectorError(INVALID_CODE, "dev code signature")
        try:
            payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            user = DevUser(**payload["user"])
            fresh = int(payload["exp"]) > self._clock().timestamp()
            same_request = (
                constant_time_equals(payload["nonce"], nonce)
                and payload["redirect_uri"] == redirect_uri
            )
        except (ValueError, KeyError, TypeError):
            raise ConnectorError(INVALID_CODE, "dev code payload") from None
        if not fresh or not same_request:
            raise ConnectorError(INVALID_CODE, "dev code expired or for another request")
        return UpstreamIdentity(
            provider_id=self.id,
            subject=user.subject,
            email=user.email.lower() if user.email else None,
            email_verified=user.email_verified,
            name=user.name,
            image=None,
        )
