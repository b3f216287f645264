"""Registering clients: the rules a client's settings must follow, and secrets shown once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from idp.models import OAuthClient
from idp.oidc import rules, store
from idp.runtime import Runtime
from idp.security.origins import is_loopback_host
from idp.security.secrets import token_hash

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_SCOPES = ("openid", "profile", "email", "offline_access", "chat")
SECRET_BYTES = 32


class ClientError(ValueError):
    """A client setting is refused; the message says which and why."""


def check_redirect_uri(uri: str, what: str = "redirect URI") -> str:
    """https anywhere; http only on loopback (RFC 8252 7.3); never a fragment (RFC 6749 3.1.2)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise ClientError(f"{what} {uri!r} is not a URL") from None
    if parts.fragment or "#" in uri:
        raise ClientError(f"{what} {uri!r} must not have a fragment")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return uri
    raise ClientError(f"{what} {uri!r} must be https (http only on localhost or 127.0.0.1)")


@dataclass(frozen=True)
class ClientSpec:
    name: str
    public: bool
    redirect_uris: Sequence[str]
    post_logout_redirect_uris: Sequence[str] = ()
    scopes: Sequence[str] = DEFAULT_SCOPES
    grant_types: Sequence[str] = ("authorization_code", "refresh_token")
    first_party: bool = False
    auth_method: str = "client_secret_basic"
    backchannel_logout_uri: str | None = None


def validated(spec: ClientSpec) -> ClientSpec:
    if not spec.name.strip() or len(spec.name) > 100:
        raise ClientError("a client needs a name of at most 100 characters")
    unknown = set(spec.scopes) - set(rules.SUPPORTED_SCOPES)
    if unknown:
        raise ClientError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    bad_grants = set(spec.grant_types) - set(GRANT_TYPES)
    if bad_grants:
        raise ClientError(f"unknown grant type(s): {', '.join(sorted(bad_grants))}")
    if spec.public and "client_credentials" in spec.grant_types:
        raise ClientError("a public client cannot use client_credentials: it has no secret")
    if "authorization_code" in spec.grant_types and not spec.redirect_uris:
        raise ClientError("a client using authorization_code needs at least one redirect URI")
    if spec.auth_method not in ("client_secret_basic", "client_secret_post"):
        raise ClientError(
            "the authentication method must be client_secret_basic or client_secret_post"
        )
    for uri in spec.redirect_uris:
        check_redirect_uri(uri)
    for uri in spec.post_logout_redirect_uris:
        check_redirect_uri(uri, "post-logout redirect URI")
    if spec.backchannel_logout_uri is not None:
        # Back-Channel Logout 2.2: absolute, may carry a query, never a fragment.
        check_redirect_uri(spec.backchannel_logout_uri, "back-channel logout URI")
    return spec


def create(spec: ClientSpec, runtime: Runtime) -> tuple[OAuthClient, str | None]:
    """A new client and, for a confidential one, its secret (shown once, stored hashed)."""
    spec = validated(spec)
    secret = None if spec.public else runtime.random.token(SECRET_BYTES)
    now = runtime.now()
    client = OAuthClient(
        client_id=runtime.random.identifier(),
        name=spec.name.strip(),
        secret_hash=token_hash(secret) if secret else None,
        token_endpoint_auth_method="none" if spec.public else spec.auth_method,
        redirect_uris=list(spec.redirect_uris),
        post_logout_redirect_uris=list(spec.post_logout_redirect_uris),
        scopes=" ".join(dict.fromkeys(spec.scopes)),
        grant_types=list(dict.fromkeys(spec.grant_types)),
        first_party=spec.first_party,
        backchannel_logout_uri=spec.backchannel_logout_uri,
        created_at=now,
        updated_at=now,
    )
    store.save_client(client)
    return client, secret


def spec_of(client: OAuthClient) -> ClientSpec:
    return ClientSpec(
        name=client.name,
        public=client.is_public,
        redirect_uris=client.redirect_uris,
        post_logout_redirect_uris=client.post_logout_redirect_uris,
        scopes=client.scopes.split(),
        grant_types=client.grant_types,
        first_party=client.first_party,
        backchannel_logout_uri=client.backchannel_logout_uri,
        auth_method="client_secret_basic"
        if client.is_public
        else client.token_endpoint_auth_method,
    )


def update(client: OAuthClient, spec: ClientSpec, runtime: Runtime) -> OAuthClient:
    spec = validated(spec)
    if spec.public != client.is_public:
        raise ClientError(
            "a client cannot change between public and confidential; create a new one"
        )
    client.name = spec.name.strip()
    client.redirect_uris = list(spec.redirect_uris)
    client.post_logout_redirect_uris = list(spec.post_logout_redirect_uris)
    client.scopes = " ".join(dict.fromkeys(spec.scopes))
    client.grant_types = list(dict.fromkeys(spec.grant_types))
    client.first_party = spec.first_party
    client.backchannel_logout_uri = spec.backchannel_logout_uri
    if not client.is_public:
        client.token_endpoint_auth_method = spec.auth_method
    client.updated_at = runtime.now()
    store.save_client(client)
    return client


def rotate_secret(client: OAuthClient, runtime: Runtime) -> str:
    if client.is_public:
        raise ClientError("a public client has no secret")
    secret = runtime.random.token(SECRET_BYTES)
    client.secret_hash = token_hash(secret)
    client.updated_at = runtime.now()
    store.save_client(client)
    return secret
