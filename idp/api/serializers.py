"""The JSON shapes of Better Auth (camelCase keys, ISO-8601 UTC dates ending in ``Z``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from idp.dates import iso
from idp.models import Account, Session, User
from idp.sessions.store import SessionView, UserView
from idp.users.presentation import Presentation


def user_json(user: User | UserView, presentation: Presentation) -> dict[str, Any]:
    """Better Auth's user, with how the user appears in chat and their role."""
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "emailVerified": user.email_verified,
        "image": user.image,
        "createdAt": iso(user.created_at),
        "updatedAt": iso(user.updated_at),
        "role": presentation.role,
        "nameColor": presentation.name_color,
        "badges": presentation.badges,
        "flair": presentation.flair,
    }


def session_json(session: Session | SessionView) -> dict[str, Any]:
    # Better Auth puts the bearer token here; we never hand it to JavaScript. The session id
    # stands in its place, and revoke-session accepts it back.
    return {
        "id": session.id,
        "token": session.id,
        "userId": session.user_id,
        "expiresAt": iso(session.expires_at),
        "createdAt": iso(session.created_at),
        "updatedAt": iso(session.updated_at),
        "ipAddress": session.ip_address,
        "userAgent": session.user_agent,
    }


def get_session_json(
    session: Session | SessionView, user: User | UserView, presentation: Presentation
) -> dict[str, Any]:
    """The answer of ``get-session`` for a signed-in browser."""
    return {"session": session_json(session), "user": user_json(user, presentation)}


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "providerId": account.provider_id,
        "accountId": account.account_id,
        "userId": account.user_id,
        "scopes": (account.scope or "").replace(",", " ").split(),
        "createdAt": iso(account.created_at),
        "updatedAt": iso(account.updated_at),
    }


def session_jwt_claims(
    user: User | UserView,
    session: Session | SessionView,
    presentation: Presentation,
    *,
    issuer: str,
    audience: str,
    now: datetime,
    ttl: int,
) -> dict[str, Any]:
    """The session JWT of ``GET /api/auth/token``, for embeds and services.

    Better Auth's JWT plugin shape: the user's fields at the top level and ``sub`` the user id;
    with our issuer, a configurable audience and the session id. Short-lived, signed by the
    active key: services verify it offline against our JWKS.
    """
    issued = int(now.timestamp())
    return {
        "iss": issuer,
        "aud": audience,
        "sub": user.id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "sid": session.id,
        **user_json(user, presentation),
    }
