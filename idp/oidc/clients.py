"""Registering clients: the rules a client's settings must follow, and secrets shown once."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import JWKRegistry

from idp.keys import jose
from idp.models import OAuthClient
from idp.oidc import rules, store
from idp.runtime import Runtime
from idp.security.origins import is_loopback_host
from idp.security.secrets import token_hash

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_SCOPES = ("openid", "profile", "email", "offline_access", "chat")
SECRET_BYTES = 32
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
KEY_AUTH_METHOD = "private_key_jwt"  # RFC 7523, Core 9: the client signs with its own keys
AUTH_METHODS = (*SECRET_AUTH_METHODS, KEY_AUTH_METHOD)
MAX_CLIENT_KEYS = 10
MAX_KID_LENGTH = 128
# Members that only a private JWK has (RFC 7518 6.2.2, 6.3.2, 6.4; RFC 8037 2).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# The curves of the algorithms we verify (ES256, EdDSA).
CURVES = {"EC": "P-256", "OKP": "Ed25519"}
MIN_RSA_BITS = 2048


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


def public_jwks(document: Any) -> dict[str, Any]:
    """A client's key set for ``private_key_jwt``: public signing keys of the algorithms we
    verify (RS256 with 2048 bits or more, ES256, EdDSA), each with its own ``kid`` when there
    are several (so that the client can rotate: old and new side by side)."""
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise ClientError('the JWKS must be a JSON object with a non-empty "keys" list')
    if len(keys) > MAX_CLIENT_KEYS:
        raise ClientError(f"a client may register at most {MAX_CLIENT_KEYS} keys")
    kids: list[Any] = []
    for key in keys:
        if not isinstance(key, Mapping):
            raise ClientError("each key of the JWKS must be a JSON object")
        if PRIVATE_MEMBERS & key.keys():
            raise ClientError(
                "the JWKS holds a private key: register only the public half, and keep the "
                "private key with the client"
            )
        kid = key.get("kid")
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH):
            raise ClientError(f"a kid must be a string of 1 to {MAX_KID_LENGTH} characters")
        kty = key.get("kty")
        if kty not in ("RSA", *CURVES):
            raise ClientError("each key must be RSA, EC (P-256) or OKP (Ed25519)")
        if kty in CURVES and key.get("crv") != CURVES[kty]:
            raise ClientError(f"an {kty} key must be on {CURVES[kty]}")
        if key.get("use", "sig") != "sig":
            raise ClientError('a key registered for assertions must have "use": "sig"')
        if "alg" in key and key["alg"] not in jose.ALGORITHMS:
            raise ClientError(f"a key's alg must be one of {', '.join(jose.ALGORITHMS)}")
        try:
            with warnings.catch_warnings():  # a small RSA key: refused below, with a reason
                warnings.simplefilter("ignore", SecurityWarning)
                imported = JWKRegistry.import_key(dict(key))
        except (JoseError, ValueError, TypeError):
            raise ClientError(f"key {key.get('kid', '(no kid)')!r} is not a valid JWK") from None
        public = imported.raw_value
        if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
            raise ClientError(f"an RSA key must have at least {MIN_RSA_BITS} bits")
        kids.append(kid)
    if len(keys) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise ClientError("with more than one key, each needs a kid of its own")
    return {"keys": [dict(key) for key in keys]}


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
    jwks: Mapping[str, Any] | None = None  # private_key_jwt only


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
        raise ClientError("a public client cannot use client_credentials: it has no credentials")
    if "authorization_code" in spec.grant_types and not spec.redirect_uris:
        raise ClientError("a client using authorization_code needs at least one redirect URI")
    if spec.auth_method not in AUTH_METHODS:
        raise ClientError(f"the authentication method must be one of {', '.join(AUTH_METHODS)}")
    if spec.public and (spec.auth_method == KEY_AUTH_METHOD or spec.jwks is not None):
        raise ClientError(
            "a public client has no credentials: private_key_jwt is for confidential ones"
        )
    if spec.auth_method == KEY_AUTH_METHOD:
        if spec.jwks is None:
            raise ClientError("a private_key_jwt client needs its public keys (a JWKS)")
        spec = replace(spec, jwks=public_jwks(spec.jwks))
    elif spec.jwks is not None:
        raise ClientError("only a private_key_jwt client registers keys")
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
    has_secret = not spec.public and spec.auth_method in SECRET_AUTH_METHODS
    secret = runtime.random.token(SECRET_BYTES) if has_secret else None
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
        jwks=dict(spec.jwks) if spec.jwks is not None else None,
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
        jwks=client.jwks,
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
    if (spec.auth_method == KEY_AUTH_METHOD) != (
        client.token_endpoint_auth_method == KEY_AUTH_METHOD
    ):
        raise ClientError(
            "a client cannot change between a secret and private_key_jwt; create a new one"
        )
    client.backchannel_logout_uri = spec.backchannel_logout_uri
    client.jwks = dict(spec.jwks) if spec.jwks is not None else None
    if not client.is_public:
        client.token_endpoint_auth_method = spec.auth_method
    client.updated_at = runtime.now()
    store.save_client(client)
    return client


def rotate_secret(client: OAuthClient, runtime: Runtime) -> str:
    if client.is_public:
        raise ClientError("a public client has no secret")
    if client.token_endpoint_auth_method == KEY_AUTH_METHOD:
        raise ClientError(
            "this client signs with its own keys and has no secret; "
            "replace its keys with: flask clients update CLIENT_ID --jwks FILE"
        )
    secret = runtime.random.token(SECRET_BYTES)
    client.secret_hash = token_hash(secret)
    client.updated_at = runtime.now()
    store.save_client(client)
    return secret
