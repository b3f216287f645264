"""What admins do to users: presentation, roles, bans, deletion, and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select

from idp.audit import record
from idp.models import Badge, Flair, OAuthToken, User, db
from idp.oidc import backchannel
from idp.runtime import Randomness
from idp.sessions import store as sessions
from idp.sessions.store import UserView
from idp.users import badges
from idp.users.presentation import (
    Presentation,
    checked_color,
    checked_flair_text,
    checked_name_color,
)

ROLES = ("user", "admin")


def find_user(reference: str) -> User | None:
    """A user by id or by email."""
    if "@" in reference:
        return db.session.scalar(select(User).where(User.email == reference.strip().lower()))
    return db.session.get(User, reference)


def list_users(search: str | None = None, limit: int = 100) -> list[User]:
    query = select(User).order_by(User.created_at).limit(limit)
    if search:
        # The search is text, not a pattern: % and _ match themselves.
        escaped = search.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                User.email.like(pattern, escape="!"),
                User.name.ilike(pattern, escape="!"),
                User.id == search,
            )
        )
    return list(db.session.scalars(query))


def flair_json(flair: Flair) -> dict[str, Any]:
    return {"id": flair.id, "text": flair.text, "color": flair.color}


def badge_json(badge: Badge) -> dict[str, Any]:
    return {"id": badge.id, "label": badge.label, "icon": badge.icon_url, "color": badge.color}


def own_flair(user_id: str, flair_id: str | None) -> Flair | None:
    """The flair ``flair_id`` if it is one of the user's, else None: a user shows, picks and
    loses only their own."""
    flair = db.session.get(Flair, flair_id) if flair_id else None
    return flair if flair is not None and flair.user_id == user_id else None


def shown_flair(user: User | UserView) -> dict[str, Any] | None:
    """The flair the user shows: one of theirs, or none."""
    flair = own_flair(user.id, user.flair_id)
    return flair_json(flair) if flair is not None else None


def shown_badges(user_id: str, now: datetime) -> list[dict[str, Any]]:
    return [badge_json(b) for b in badges.shown(user_id, now)]


def presentation(user: User | UserView, now: datetime) -> Presentation:
    return Presentation(
        name_color=user.name_color,
        badges=shown_badges(user.id, now),
        flair=shown_flair(user),
        role=user.role,
    )


def available_flairs(user_id: str) -> list[Flair]:
    return list(
        db.session.scalars(select(Flair).where(Flair.user_id == user_id).order_by(Flair.created_at))
    )


def set_name_color(user: User, color: str | None, now: datetime) -> None:
    user.name_color = checked_name_color(color) if color else None
    user.updated_at = now
    db.session.commit()


def choose_flair(user: User, flair_id: str | None, now: datetime) -> bool:
    """A user picks one of their flairs (or none). False if it is not one of theirs."""
    if flair_id is not None and own_flair(user.id, flair_id) is None:
        return False
    user.flair_id, user.updated_at = flair_id, now
    db.session.commit()
    return True


def give_flair(
    user: User, text: str, color: str | None, *, now: datetime, random: Randomness, actor: str
) -> Flair:
    """An admin makes a flair available to a user and selects it for them."""
    flair = Flair(
        id=random.identifier(),
        user_id=user.id,
        text=checked_flair_text(text),
        color=checked_color(color) if color else None,
        created_at=now,
    )
    db.session.add(flair)
    db.session.flush()
    user.flair_id, user.updated_at = flair.id, now
    db.session.commit()
    record("user.flair_set", actor=actor, subject=user.id, flair=flair.id)
    return flair


def clear_flair(user: User, *, now: datetime, random: Randomness, actor: str) -> None:
    user.flair_id, user.updated_at = None, now
    db.session.commit()
    record("user.flair_cleared", actor=actor, subject=user.id)


def remove_flair(user: User, flair_id: str, *, now: datetime, actor: str) -> bool:
    """An admin takes a flair out of a user's list (and off display, if it was showing).
    False if the user has no such flair."""
    flair = own_flair(user.id, flair_id)
    if flair is None:
        return False
    if user.flair_id == flair_id:
        user.flair_id = None
    user.updated_at = now
    db.session.delete(flair)
    db.session.commit()
    record("user.flair_removed", actor=actor, subject=user.id, flair=flair_id)
    return True


def set_role(user: User, role: str, *, now: datetime, random: Randomness, actor: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user.role, user.updated_at = role, now
    db.session.commit()
    record("user.role_set", actor=actor, subject=user.id, role=role)


def revoke_everything(user_id: str, now: datetime) -> int:
    """Every session and every OpenID grant (with its access and refresh tokens), at once."""
    count = sessions.delete_for_user(user_id)
    backchannel.sessions_ended(user_id, now, offline_too=True)
    return count


def ban(user: User, reason: str | None, *, now: datetime, random: Randomness, actor: str) -> None:
    # Banning again keeps the original time, and the reason unless a new one is given.
    user.banned_at = user.banned_at or now
    user.ban_reason = reason or user.ban_reason
    user.updated_at = now
    db.session.commit()
    record("user.banned", actor=actor, subject=user.id)
    revoke_everything(user.id, now)


def unban(user: User, *, now: datetime, random: Randomness, actor: str) -> None:
    user.banned_at, user.ban_reason, user.updated_at = None, None, now
    db.session.commit()
    record("user.unbanned", actor=actor, subject=user.id)


def delete_user(user: User, *, now: datetime, random: Randomness, actor: str) -> None:
    """Erase the user: profile, linked accounts, sessions, badges, flairs, consents, grants and
    tokens. The audit trail keeps that it happened, by id, with no personal data."""
    user_id = user.id
    backchannel.sessions_ended(user_id, now, offline_too=True)
    db.session.execute(delete(OAuthToken).where(OAuthToken.user_id == user_id))
    db.session.delete(user)
    db.session.commit()
    record("user.deleted", actor=actor, subject=user_id)


def is_banned(user: User) -> bool:
    return user.banned_at is not None
