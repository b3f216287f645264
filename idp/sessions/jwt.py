"""The session JWT of ``GET /api/auth/token``: who is signed in, for embeds and services.

Its payload follows Better Auth's JWT plugin (the user's fields at the top level, ``sub`` the
user id), with our issuer and a configurable audience; it is short-lived and signed by the
active key, so services verify it offline against our JWKS.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from idp.dates import iso
from idp.models import Session, User
from idp.sessions.store import SessionView, UserView
from idp.users.moderation import Presentation


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
    issued = int(now.timestamp())
    return {
        "iss": issuer,
        "aud": audience,
        "sub": user.id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "sid": session.id,
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
