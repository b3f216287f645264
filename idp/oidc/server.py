"""Authlib's authorization server, over our models.

Authlib does the OAuth 2 mechanics (client authentication, grant dispatch, PKCE, RFC 7009 and
7662 endpoints, error bodies); this module adapts our models to its interfaces and adds our
rules on top: S256 only, codes redeemed once with reuse revoking the grant, refresh tokens
rotated with reuse detection, ID tokens signed by our key ring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import audit
from idp.keys import jose
from idp.models import OAuthGrant, OAuthToken, Session, User, db
from idp.oidc import rules, store
from idp.oidc.claims import user_claims
from idp.oidc.clients import KEY_AUTH_METHOD, SECRET_AUTH_METHODS
from idp.ops.metrics import metrics
from idp.runtime import get_runtime
from idp.security.secrets import b64url, constant_time_equals, token_hash
from idp.sessions.store import SessionView, UserView

CONFIDENTIAL_AUTH_METHODS = [*SECRET_AUTH_METHODS, KEY_AUTH_METHOD]
TOKEN_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]


class Client(ClientMixin):  # type: ignore[misc]
    """An :class:`OAuthClient` as Authlib sees it."""

    def __init__(self, row: store.ClientView) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect requires redirect_uri in every request (3.1.2.1)

    def get_allowed_scope(self, scope: str) -> str:
        allowed = self.row.scope_set
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return rules.redirect_uri_registered(redirect_uri, self.row.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        return stored is not None and hmac.compare_digest(stored, token_hash(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """The registered method decides, at every endpoint (introspection is for confidential
        clients only): ``none`` for a public client, its keys for a ``private_key_jwt`` client,
        and either form of its secret for the others."""
        registered = self.row.token_endpoint_auth_method
        if self.row.is_public:
            return method == "none" and endpoint != "introspection"
        if registered == KEY_AUTH_METHOD:
            return method == KEY_AUTH_METHOD
        return method in SECRET_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials" and self.row.is_public:
            return False
        return grant_type in self.row.grant_types


@dataclass
class AuthorizedUser:
    """Who authorized, from which first-party session, and what they allowed to be released."""

    user: User | UserView
    session: Session | SessionView
    claims: dict[str, Any]


class Code:
    """A redeemed authorization code as Authlib sees it."""

    def __init__(self, redeemed: store.RedeemedCode) -> None:
        self.row, self.grant = redeemed.code, redeemed.grant
        self.code_challenge = self.row.code_challenge
        self.code_challenge_method = self.row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.grant.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int | None:
        return int(self.grant.auth_time.timestamp()) if self.grant.auth_time else None

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Token:
    """An :class:`OAuthToken` as Authlib's revocation, introspection and refresh see it."""

    def __init__(self, row: OAuthToken, *, refresh: bool) -> None:
        self.row, self.refresh = row, refresh

    def check_client(self, client: Client) -> bool:
        return constant_time_equals(self.row.client_id, client.get_client_id())

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        now = get_runtime().now()
        if self.refresh:
            return self.row.refresh_expires_at is None or self.row.refresh_expires_at <= now
        return self.row.expires_at <= now

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or (
            self.refresh and self.row.refreshed_at is not None
        )

    def get_user(self) -> User | None:
        return db.session.get(User, self.row.user_id) if self.row.user_id else None


def id_token_claims(
    *,
    user: User | UserView,
    client_id: str,
    scope: str,
    claims_request: dict[str, Any],
    nonce: str | None,
    auth_time: datetime | None,
    session_id: str | None,
    access_token: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Core 2 and 3.1.3.6: the ID token's claims."""
    runtime = get_runtime()
    released = rules.released_claims(scope.split(), claims_request, "id_token")
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": runtime.settings.base_url,
        "aud": client_id,
        "azp": client_id,
        "iat": issued,
        "exp": issued + runtime.settings.id_token_ttl,
        **user_claims(user, released),
    }
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    if nonce:
        claims["nonce"] = nonce
    if session_id:
        claims["sid"] = session_id
    if access_token:
        claims["at_hash"] = at_hash(access_token)
    return claims


def at_hash(access_token: str) -> str:
    """3.1.3.6: base64url of the left half of the SHA-256 of the access token (RS256)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def sign_id_token(claims: dict[str, Any]) -> str:
    metrics().tokens.labels("id_token").inc()
    alg, key = get_runtime().keys.signer("RS256")  # RS256: mandatory for ID tokens (Core 15.1)
    return jose.sign(claims, key=key, alg=alg)


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (RFC 9700 2.1.1): ``plain`` and a missing method are refused."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        payload = grant.request.payload.data
        if payload.get("code_challenge") and payload.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "code_challenge_method must be S256", redirect_uri=redirect_uri
            )
        client: Client = grant.request.client
        if client.row.is_public and not payload.get("code_challenge"):
            raise InvalidRequestError(
                "public clients must use PKCE (S256)", redirect_uri=redirect_uri
            )
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """A code issued with a challenge is useless without its verifier (RFC 7636 4.6)."""
        code: Code = grant.request.authorization_code
        if code.code_challenge and not grant.request.form.get("code_verifier"):
            raise InvalidGrantError("code_verifier is required for this code")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        runtime = get_runtime()
        authorized: AuthorizedUser = request.user
        data = request.payload.data
        store.create_code(
            code,
            store.CodeRequest(
                client_id=request.client.get_client_id(),
                user_id=authorized.user.id,
                session_id=authorized.session.id,
                scope=request.scope,
                redirect_uri=request.payload.redirect_uri,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                claims=authorized.claims,
                auth_time=authorized.session.created_at,
            ),
            runtime.now(),
            runtime.settings.code_ttl,
            runtime.random,
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        try:
            redeemed = store.redeem_code(code, client.get_client_id(), get_runtime().now())
        except store.CodeReusedError:
            raise InvalidGrantError(
                "authorization code already used; its tokens are revoked"
            ) from None
        return Code(redeemed) if redeemed else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing to do: :func:`store.redeem_code` consumed it atomically."""

    def authenticate_user(self, authorization_code: Code) -> User | None:
        user_id = authorization_code.grant.user_id
        user = db.session.get(User, user_id) if user_id else None
        if user is None or user.banned_at is not None:
            raise InvalidGrantError("the user can no longer sign in")
        return user


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation (RFC 9700 4.14.2)

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshingToken | None:
        runtime = get_runtime()
        client: Client = self.request.client
        try:
            exchange = store.find_refresh_exchange(
                refresh_token,
                client.get_client_id(),
                runtime.now(),
                runtime.settings.refresh_reuse_grace,
            )
        except store.RefreshReusedError:
            raise InvalidGrantError("refresh token already used; the grant is revoked") from None
        if exchange is None or exchange.grant_revoked:
            return None
        return RefreshingToken(exchange)

    def authenticate_user(self, refresh_token: RefreshingToken) -> UserView | None:
        user = refresh_token.exchange.user
        if user is None or user.banned_at is not None:
            raise InvalidGrantError("the user can no longer sign in")
        return user

    def revoke_old_credential(self, refresh_token: RefreshingToken) -> None:
        """Nothing to do: :meth:`AuthorizationServer.save_token` spent it, atomically, in the
        transaction that saved its successors."""


class RefreshingToken:
    """A refresh token being exchanged by this request, as Authlib's refresh grant sees it."""

    def __init__(self, exchange: store.RefreshExchange) -> None:
        self.exchange = exchange

    def check_client(self, client: Client) -> bool:
        return constant_time_equals(self.exchange.client_id, client.get_client_id())

    def get_scope(self) -> str:
        return self.exchange.scope


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """``private_key_jwt`` (RFC 7523 2.2, Core 9): the client proves itself with a JWT signed by
    one of the keys it registered. Authlib reads the assertion and finds the client by ``sub``;
    the signature goes through our JOSE registry (RS256, ES256, EdDSA only, never a key named
    by the token) and the claims through :func:`rules.client_assertion_problem`."""

    CLIENT_AUTH_METHOD = KEY_AUTH_METHOD

    def __init__(self, audiences: list[str]) -> None:
        super().__init__(validate_jti=True, leeway=rules.ASSERTION_LEEWAY)
        self._audiences = audiences

    def __call__(self, query_client: Any, request: Any) -> Client | None:
        client: Client | None = super().__call__(query_client, request)
        named = request.form.get("client_id")
        if client is not None and named and not constant_time_equals(named, client.client_id):
            raise InvalidClientError(description="client_id is not the assertion's subject")
        return client

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Authlib's reading of the unverified header and claims, with one more failure that
        must be the client's: JSON nested deeper than the parser goes (a 500 otherwise). A
        ``sub`` no client could have is then unknown to :func:`store.find_client`."""
        try:
            extracted: tuple[dict[str, Any], dict[str, Any]] = super().extract_assertion(assertion)
        except RecursionError:
            raise InvalidClientError(description="Invalid JWT payload.") from None
        return extracted

    def get_audiences(self) -> list[str]:
        return self._audiences

    def resolve_client_public_key(self, client: Client) -> KeySet:
        if client.row.token_endpoint_auth_method != KEY_AUTH_METHOD or not client.row.jwks:
            raise InvalidClientError(description="the client does not sign with keys of its own")
        try:
            return KeySet.import_key_set(client.row.jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError):
            raise InvalidClientError(
                description="the client's registered keys are unusable"
            ) from None

    def process_assertion_claims(self, assertion: str, keys: KeySet) -> dict[str, Any]:
        try:
            _, claims = jose.verify_signature(assertion, keys)
        except jose.TokenError:
            raise InvalidClientError(
                description="the client assertion is not signed by a key of the client"
            ) from None
        now = get_runtime().now()
        client_id = str(claims.get("sub"))
        problem = rules.client_assertion_problem(
            claims, client_id=client_id, audiences=self._audiences, now=now.timestamp()
        )
        if problem is not None:
            raise InvalidClientError(description=f"client assertion: {problem}")
        kept_until = datetime.fromtimestamp(claims["exp"] + rules.ASSERTION_LEEWAY, tz=UTC)
        if not store.first_use_of_assertion(client_id, claims["jti"], kept_until):
            raise InvalidClientError(description="client assertion: this jti was used before")
        return claims


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS


class OpenIDTokens:
    """Adds the ID token to token responses whose scope has ``openid`` (Core 3.1.3.3, 12.2)."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.add_id_token)

    def add_id_token(self, grant: Any, response: tuple[int, dict[str, Any], Any]) -> None:
        _, token, _ = response
        request = grant.request
        if "openid" not in token.get("scope", "").split() or request.user is None:
            return
        code: Code | None = getattr(request, "authorization_code", None)
        refresh: RefreshingToken | None = getattr(request, "refresh_token", None)
        source: OAuthGrant | store.RefreshExchange | None = (
            code.grant if code else (refresh.exchange if refresh else None)
        )
        if source is None:
            return
        token["id_token"] = sign_id_token(
            id_token_claims(
                user=request.user,
                client_id=request.client.get_client_id(),
                scope=token["scope"],
                claims_request=json.loads(source.claims) if source.claims else {},
                nonce=code.get_nonce() if code else None,
                auth_time=source.auth_time,
                session_id=source.session_id,
                access_token=token.get("access_token"),
                now=get_runtime().now(),
            )
        )


def check_token_param(request: Any) -> None:
    """RFC 7009 2.1 and RFC 7662 2.1: ``token`` is required; a ``token_type_hint`` the server
    does not know is ignored (the token is looked up as any type), never an error."""
    if not request.form.get("token"):
        raise InvalidRequestError("token is required")


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def check_params(self, request: Any, client: Client) -> None:
        check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _query_token(token_string, token_type_hint)

    def revoke_token(self, token: Token, request: Any) -> None:
        store.revoke_token(token.row, get_runtime().now(), whole_grant=token.refresh)
        audit.record(
            "token.revoked",
            actor=token.row.client_id,
            subject=token.row.user_id,
            kind="refresh_token" if token.refresh else "access_token",
        )


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def check_params(self, request: Any, client: Client) -> None:
        check_token_param(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _query_token(token_string, token_type_hint)

    def check_permission(self, token: Token, client: Client, request: Any) -> bool:
        """A client may introspect its own tokens; our first-party services (resource servers)
        may introspect any. Others learn nothing: the answer is {"active": false}."""
        return client.row.first_party or token.check_client(client)

    def introspect_token(self, token: Token) -> dict[str, Any]:
        """RFC 7662 2.2."""
        row = token.row
        user = token.get_user()
        if row.user_id and (user is None or user.banned_at is not None):
            return {"active": False}
        expires = (
            row.refresh_expires_at if token.refresh and row.refresh_expires_at else row.expires_at
        )
        payload: dict[str, Any] = {
            "active": True,
            "scope": row.scope,
            "client_id": row.client_id,
            "token_type": "refresh_token" if token.refresh else "Bearer",
            "exp": int(expires.timestamp()),
            "iat": int(row.issued_at.timestamp()),
            "iss": get_runtime().settings.base_url,
            "aud": row.client_id,
        }
        if user is not None:
            payload["sub"] = user.id
            payload["username"] = user.name
        return payload


def _query_token(token_string: str, hint: str | None) -> Token | None:
    if len(token_string) > 512:
        return None
    order = (
        ("refresh_token", "access_token")
        if hint == "refresh_token"
        else ("access_token", "refresh_token")
    )
    for kind in order:
        row = (
            store.find_access_token(token_string)
            if kind == "access_token"
            else store.find_refresh_token(token_string)
        )
        if row is not None:
            return Token(row, refresh=kind == "refresh_token")
    return None


class TokenGenerator(BearerTokenGenerator):  # type: ignore[misc]
    def generate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        token: dict[str, Any] = super().generate(*args, **kwargs)
        if token.get("refresh_token") is None:
            token.pop("refresh_token", None)  # none for this client or grant: leave it out
        return token


class AuthorizationServer(FlaskAuthorizationServer):  # type: ignore[misc]
    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        """RFC 6749 2.3: "The client MUST NOT use more than one authentication method in each
        request." Authlib would try them in turn and take the first that works."""
        presented = [
            request.headers.get("Authorization", "")[:6].lower() == "basic ",
            bool(request.form.get("client_secret")),
            bool(request.form.get("client_assertion")),
        ]
        if sum(presented) > 1:
            raise InvalidClientError(
                description="the client used more than one authentication method"
            )
        return super().authenticate_client(request, methods, endpoint)

    def query_client(self, client_id: str) -> Client | None:
        row = store.find_client(client_id)
        return Client(row) if row else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        runtime = get_runtime()
        client: Client = request.client
        user = request.user
        if isinstance(user, AuthorizedUser):
            user = user.user
        code: Code | None = getattr(request, "authorization_code", None)
        refresh: RefreshingToken | None = getattr(request, "refresh_token", None)
        if code is not None:
            grant_id = code.grant.id
        elif refresh is not None:
            grant_id = refresh.exchange.grant_id
            grace = runtime.settings.refresh_reuse_grace
            if not store.spend_refresh_token(refresh.exchange, runtime.now(), grace):
                raise InvalidGrantError("refresh token already used")
        else:
            grant_id = store.create_grant(
                client.get_client_id(), None, token.get("scope", ""), runtime.now(), runtime.random
            ).id
        store.save_token(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            grant_id=grant_id,
            client_id=client.get_client_id(),
            user_id=user.id if isinstance(user, User | UserView) else None,
            scope=token.get("scope", ""),
            now=runtime.now(),
            access_ttl=runtime.settings.access_token_ttl,
            refresh_ttl=runtime.settings.refresh_token_ttl,
            random=runtime.random,
        )
        issued = metrics().tokens
        issued.labels("access_token").inc()
        if token.get("refresh_token"):
            issued.labels("refresh_token").inc()


def create_server(app: Flask) -> AuthorizationServer:
    runtime = get_runtime(app)
    settings = runtime.settings
    server = AuthorizationServer()
    # No scopes_supported on the server: Authlib would refuse unknown scopes with invalid_scope,
    # where Core 3.1.2.1 says to ignore them; Client.get_allowed_scope drops them instead.
    server._error_uris = None

    def access_token(client: Client, grant_type: str, user: Any, scope: str) -> str:
        return runtime.random.token(32)

    def refresh_token(client: Client, grant_type: str, user: Any, scope: str) -> str | None:
        if grant_type == "client_credentials":
            return None
        if "offline_access" not in scope.split() and not client.row.first_party:
            # Core 11: third parties get refresh tokens only when they asked for offline access.
            return None
        return runtime.random.token(32)

    def expires_in(client: Client, grant_type: str) -> int:
        return settings.access_token_ttl

    server.register_token_generator(
        "default", TokenGenerator(access_token, refresh_token, expires_in)
    )
    server.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True), OpenIDTokens()])
    server.register_grant(RefreshTokenGrant, [OpenIDTokens()])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    # Core 9: "The Audience SHOULD be the URL of the Authorization Server's Token Endpoint";
    # RFC 7523 3: any value that identifies the server, so its issuer, and the endpoint a
    # client library names when it signs for the request it makes (Authlib does).
    audiences = [
        settings.base_url,
        *(f"{settings.base_url}/oauth2/{name}" for name in ("token", "revoke", "introspect")),
    ]
    server.register_client_auth_method(KEY_AUTH_METHOD, PrivateKeyJWT(audiences))

    class Issuer(IssuerParameter):  # type: ignore[misc]
        def get_issuer(self) -> str:
            return settings.base_url

    server.register_extension(Issuer())
    return server
