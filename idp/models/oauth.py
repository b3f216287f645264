"""Our OpenID provider's state: clients, consents, grants, codes and tokens.

Every bearer secret (client secrets, codes, access and refresh tokens) is stored as its SHA-256
only. A *grant* ties together everything issued from one authorization (its code, and every
access and refresh token that followed), so that reuse of a code or of a spent refresh token
can revoke all of it at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import UTCDateTime, db


class _ClientFields(Protocol):
    @property
    def token_endpoint_auth_method(self) -> str: ...

    @property
    def scopes(self) -> str: ...


class ClientRules:
    """What a client's registration implies: for the model and for the plain view the token
    endpoint reads (``oidc.store.ClientView``)."""

    @property
    def is_public(self: _ClientFields) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105  (a method name)

    @property
    def scope_set(self: _ClientFields) -> frozenset[str]:
        return frozenset(self.scopes.split())


class OAuthClient(ClientRules, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # None for public clients (PKCE, token_endpoint_auth_method "none").
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    # OpenID Connect Back-Channel Logout 1.0: where we POST a logout token when a session ends.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    # private_key_jwt (RFC 7523, Core 9): the public keys the client signs its assertions with.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scopes: Mapped[str] = mapped_column(Text)  # space-separated, what the client may ask for
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OAuthConsent(db.Model):  # type: ignore[name-defined,misc]
    """What a user allowed a third-party client to see, remembered until revoked."""

    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OAuthGrant(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth_grants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    # None for client_credentials grants (no user).
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The first-party session the user authorized from (the ID token's "sid").
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text)
    claims: Mapped[str | None] = mapped_column(Text)  # the "claims" request parameter, as JSON
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OAuthCode(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_grants.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OAuthToken(db.Model):  # type: ignore[name-defined,misc]
    """An access token (opaque), with the refresh token issued beside it, if any."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_grant_id", "grant_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("oauth_grants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When this token's refresh token was exchanged for a new pair (rotation).
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ClientAssertion(db.Model):  # type: ignore[name-defined,misc]
    """A ``private_key_jwt`` assertion's ``jti``, kept until the assertion expires so that it is
    accepted once (RFC 7523 3, item 7). Only its SHA-256: the value is the client's to choose."""

    __tablename__ = "client_assertions"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
