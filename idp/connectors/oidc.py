"""A connector for any OpenID Connect provider, configured by its issuer alone.

Discovery (OpenID Connect Discovery 1.0), the authorization code flow with PKCE S256, the
token request through Authlib's OAuth 2 client, and ID token validation (Core 3.1.3.7).
Google and Twitch are this connector with their quirks on top (``google.py``, ``twitch.py``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.config import ProviderSettings
from idp.connectors.base import (
    INVALID_CODE,
    INVALID_ID_TOKEN,
    INVALID_UPSTREAM_RESPONSE,
    ISSUER_MISMATCH,
    NO_CODE,
    UPSTREAM_ERROR,
    UPSTREAM_UNAVAILABLE,
    AuthorizationRequest,
    ConnectorError,
    UpstreamIdentity,
    upstream_error_code,
)
from idp.connectors.idtoken import IdTokenError, token_header, verify_id_token
from idp.runtime import Clock

log = logging.getLogger(__name__)

METADATA_TTL = 3600.0
# An unknown kid triggers at most one JWKS refetch per interval: a key rotation upstream is
# picked up at once, while a flood of forged kids cannot make us hammer the provider.
JWKS_REFETCH_INTERVAL = 60.0
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_EMAIL_LENGTH = 320


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ConnectorError(INVALID_UPSTREAM_RESPONSE, f"{what}: response too large")
    try:
        body = response.json()
    except ValueError:
        raise ConnectorError(INVALID_UPSTREAM_RESPONSE, f"{what}: not JSON") from None
    if not isinstance(body, dict):
        raise ConnectorError(INVALID_UPSTREAM_RESPONSE, f"{what}: not a JSON object")
    return body


class OIDCConnector:
    """Signs users in with an OpenID Connect provider."""

    def __init__(self, settings: ProviderSettings, *, clock: Clock, timeout: float) -> None:
        self.settings = settings
        self.id = settings.id
        self.name = settings.name
        self.trust_email = settings.trust_email
        self.uses_pkce = settings.pkce
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    # -- upstream documents ------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock().timestamp()

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = requests.get(
                url, timeout=self._timeout, headers={"Accept": "application/json"}
            )
        except requests.RequestException as exc:
            raise ConnectorError(UPSTREAM_UNAVAILABLE, f"{what}: {type(exc).__name__}") from None
        if response.status_code != 200:
            code = UPSTREAM_UNAVAILABLE if response.status_code >= 500 else UPSTREAM_ERROR
            raise ConnectorError(code, f"{what}: HTTP {response.status_code}")
        return _json_object(response, what)

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, cached for an hour."""
        with self._lock:
            if self._metadata is not None and self._now() - self._metadata_at < METADATA_TTL:
                return self._metadata
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(url, "discovery")
        # Discovery 4.3: the issuer in the document must be the one we asked (mix-up defence).
        if document.get("issuer") != self.settings.issuer:
            raise ConnectorError(ISSUER_MISMATCH, "discovery: issuer differs from configuration")
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(endpoint), str):
                raise ConnectorError(INVALID_UPSTREAM_RESPONSE, f"discovery: no {endpoint}")
        with self._lock:
            self._metadata, self._metadata_at = document, self._now()
        return document

    def _key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            keys, fetched_at = self._keys, self._keys_at
        fresh = keys is not None and self._now() - fetched_at < METADATA_TTL
        known = keys is not None and (kid is None or any(k.kid == kid for k in keys.keys))
        may_refetch = keys is None or self._now() - fetched_at >= JWKS_REFETCH_INTERVAL
        if keys is not None and fresh and (known or not may_refetch):
            return keys
        document = self._get_json(self.metadata()["jwks_uri"], "jwks")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError):
            raise ConnectorError(INVALID_UPSTREAM_RESPONSE, "jwks: malformed key set") from None
        with self._lock:
            self._keys, self._keys_at = keys, self._now()
        return keys

    # -- the authorization request ----------------------------------------------------------

    def _client(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            token_endpoint_auth_method=self.settings.auth_method,
            redirect_uri=redirect_uri,
            code_challenge_method="S256" if self.uses_pkce else None,
            default_timeout=self._timeout,
        )

    def authorize_params(self, request: AuthorizationRequest) -> dict[str, str]:
        """Provider-specific authorization parameters (overridden by quirks)."""
        return {}

    def authorization_url(self, request: AuthorizationRequest) -> str:
        scopes = list(dict.fromkeys((*self.settings.scopes, *request.extra_scopes)))
        if "openid" not in scopes:
            scopes.insert(0, "openid")
        params = {"scope": " ".join(scopes), "nonce": request.nonce}
        if request.login_hint:
            params["login_hint"] = request.login_hint
        params.update(self.authorize_params(request))
        with self._client(request.redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=request.state,
                code_verifier=request.code_verifier if self.uses_pkce else None,
                **params,
            )
        return str(url)

    # -- the callback -------------------------------------------------------------------------

    def check_response_issuer(self, params: Mapping[str, str]) -> None:
        """RFC 9207: the ``iss`` of an authorization response must be this provider's issuer."""
        metadata = self.metadata()
        issuer = params.get("iss")
        if issuer is None:
            if metadata.get("authorization_response_iss_parameter_supported") is True:
                raise ConnectorError(ISSUER_MISMATCH, "authorization response lacks iss")
            return
        if issuer != metadata["issuer"]:
            raise ConnectorError(ISSUER_MISMATCH, "authorization response iss is another issuer")

    def exchange(
        self,
        *,
        params: Mapping[str, str],
        redirect_uri: str,
        code_verifier: str | None,
        nonce: str,
    ) -> UpstreamIdentity:
        self.check_response_issuer(params)
        if "error" in params:
            raise ConnectorError(
                upstream_error_code(params["error"]),
                f"authorization error {params['error'][:64]!r}",
            )
        code = params.get("code")
        if not code:
            raise ConnectorError(NO_CODE, "callback without code")
        token = self.token_request(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise ConnectorError(INVALID_UPSTREAM_RESPONSE, "token response without id_token")
        claims = self.verify(id_token, nonce)
        return self.identity(claims, token)

    def token_request(
        self, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> dict[str, Any]:
        extra = {"code_verifier": code_verifier} if self.uses_pkce and code_verifier else {}
        with self._client(redirect_uri) as client:
            client.register_compliance_hook("access_token_response", self.check_token_response)
            try:
                token = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    **extra,
                )
            except OAuthError as exc:
                kind = INVALID_CODE if exc.error == "invalid_grant" else UPSTREAM_ERROR
                raise ConnectorError(
                    kind, f"token endpoint error {str(exc.error)[:64]!r}"
                ) from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise ConnectorError(UPSTREAM_UNAVAILABLE, f"token: {type(exc).__name__}") from None
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                kind = UPSTREAM_UNAVAILABLE if status >= 500 else UPSTREAM_ERROR
                raise ConnectorError(kind, f"token: HTTP {status}") from None
            except (requests.RequestException, ValueError) as exc:
                raise ConnectorError(
                    INVALID_UPSTREAM_RESPONSE, f"token: {type(exc).__name__}"
                ) from None
        return dict(token)

    def check_token_response(self, response: requests.Response) -> requests.Response:
        """Refuse error answers that lack the standard ``error`` member (RFC 6749 5.2).

        Without this, Authlib would take such a body (Twitch sends ``{"status","message"}``) for
        a token.
        """
        if response.status_code < 400:
            return response
        try:
            body = response.json()
        except ValueError:
            return response  # Authlib raises the HTTP error for a body that is not JSON
        if isinstance(body, dict) and "error" in body:
            return response
        kind = INVALID_CODE if response.status_code in (400, 401) else UPSTREAM_ERROR
        if response.status_code >= 500:
            kind = UPSTREAM_UNAVAILABLE
        raise ConnectorError(kind, f"token: HTTP {response.status_code} without an error code")

    def accepted_issuers(self) -> tuple[str, ...]:
        return (self.metadata()["issuer"],)

    def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            kid = token_header(id_token).get("kid")
            return verify_id_token(
                id_token,
                keys=self._key_set(kid if isinstance(kid, str) else None),
                issuers=self.accepted_issuers(),
                client_id=self.settings.client_id,
                nonce=nonce,
                now=int(self._now()),
            )
        except IdTokenError as exc:
            raise ConnectorError(INVALID_ID_TOKEN, f"id_token: {exc}") from None

    def identity(self, claims: Mapping[str, Any], token: Mapping[str, Any]) -> UpstreamIdentity:
        """Map verified claims to an identity (standard claims of Core 5.1)."""
        email = claims.get("email")
        email = email.strip().lower() if isinstance(email, str) and "@" in email else None
        if email is not None and len(email) > MAX_EMAIL_LENGTH:
            email = None  # not a deliverable address (RFC 5321 4.5.3.1); keep the sign-in
        scope = token.get("scope")
        if isinstance(scope, list):
            scope = " ".join(str(s) for s in scope)
        return UpstreamIdentity(
            provider_id=self.id,
            subject=str(claims["sub"]),
            email=email,
            email_verified=email is not None and claims.get("email_verified") is True,
            name=_text(claims.get("name")) or _text(claims.get("preferred_username")),
            image=_text(claims.get("picture"), 2048),
            username=_text(claims.get("preferred_username")),
            scope=scope if isinstance(scope, str) else None,
        )


def _text(value: object, limit: int = 255) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def claims_request(id_token: list[str], userinfo: list[str] | None = None) -> str:
    """The ``claims`` authorization parameter (Core 5.5), asking for voluntary claims."""
    request: dict[str, dict[str, None]] = {"id_token": dict.fromkeys(id_token)}
    if userinfo:
        request["userinfo"] = dict.fromkeys(userinfo)
    return json.dumps(request, separators=(",", ":"))
