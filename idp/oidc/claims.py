"""The claims a user carries, by name (OpenID Connect Core 5.1, plus our chat claims)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from idp.models import User
from idp.runtime import get_runtime
from idp.sessions.store import UserView
from idp.users import moderation

# Each claim reads only what it needs: the badges and the flair are a query each.
CLAIM_SOURCES: dict[str, Callable[[User | UserView], Any]] = {
    "name_color": lambda user: user.name_color,
    "role": lambda user: user.role,
    "badges": lambda user: moderation.shown_badges(user.id, get_runtime().now()),
    "flair": moderation.shown_flair,
    "name": lambda user: user.name,
    "preferred_username": lambda user: user.name,
    "picture": lambda user: user.image,
    "updated_at": lambda user: int(user.updated_at.timestamp()),
    "email": lambda user: user.email,
    "email_verified": lambda user: bool(user.email) and user.email_verified,
}


def user_claims(user: User | UserView, names: Collection[str]) -> dict[str, Any]:
    """The values of ``names`` for ``user``; claims without a value are left out (5.3.2)."""
    claims: dict[str, Any] = {"sub": user.id}
    for name in sorted(names):
        source = CLAIM_SOURCES.get(name)
        if source is None:
            continue
        value = source(user)
        if value is not None:
            claims[name] = value
    return claims
