"""Persistence of sessions. Tokens are never stored: only their SHA-256."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, select, update

from idp.models import Session, User, db
from idp.models.base import rows_affected
from idp.runtime import Randomness
from idp.security.secrets import token_hash
from idp.sessions import policy

TOKEN_BYTES = 32  # 256 random bits


@dataclass(frozen=True)
class NewSession:
    session: Session
    token: str


def new_session(
    *,
    user_id: str,
    now: datetime,
    expires_in: int,
    random: Randomness,
    ip_address: str | None,
    user_agent: str | None,
) -> NewSession:
    """A session object, added to the current transaction (the caller commits)."""
    token = random.token(TOKEN_BYTES)
    session = Session(
        id=random.identifier(),
        token_hash=token_hash(token),
        user_id=user_id,
        expires_at=policy.expiry(now, expires_in),
        created_at=now,
        updated_at=now,
        ip_address=(ip_address or "")[:64] or None,
        user_agent=(user_agent or "")[:512] or None,
    )
    db.session.add(session)
    return NewSession(session=session, token=token)


@dataclass(frozen=True)
class SessionView:
    """A session as the hot path reads it: plain values, no ORM identity map."""

    id: str
    user_id: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    ip_address: str | None
    user_agent: str | None


@dataclass(frozen=True)
class UserView:
    id: str
    name: str
    email: str | None
    email_verified: bool
    image: str | None
    role: str
    name_color: str | None
    flair_id: str | None
    banned_at: datetime | None
    created_at: datetime
    updated_at: datetime


_SESSION_COLUMNS = [getattr(Session, f) for f in SessionView.__dataclass_fields__]
_USER_COLUMNS = [getattr(User, f) for f in UserView.__dataclass_fields__]
_LOOKUP = select(*_SESSION_COLUMNS, *_USER_COLUMNS).join(User, User.id == Session.user_id)


def find_by_token(token: str, now: datetime) -> tuple[SessionView, UserView] | None:
    """The live session a bearer token opens, with its user: one indexed query, no ORM objects
    (get-session runs this on every page load). Expired sessions are deleted."""
    row = db.session.execute(_LOOKUP.where(Session.token_hash == token_hash(token))).first()
    if row is None:
        return None
    values = tuple(row)
    session = SessionView(*values[: len(_SESSION_COLUMNS)])
    user = UserView(*values[len(_SESSION_COLUMNS) :])
    if policy.is_expired(session.expires_at, now) or user.banned_at is not None:
        delete_session(session.id)
        return None
    return session, user


def extend(session: SessionView, *, now: datetime, expires_in: int) -> SessionView:
    new_expiry = policy.expiry(now, expires_in)
    db.session.execute(
        update(Session)
        .where(Session.id == session.id)
        .values(expires_at=new_expiry, updated_at=now)
    )
    db.session.commit()
    return replace(session, expires_at=new_expiry, updated_at=now)


def list_for_user(user_id: str, now: datetime) -> list[Session]:
    return list(
        db.session.scalars(
            select(Session)
            .where(Session.user_id == user_id, Session.expires_at > now)
            .order_by(Session.created_at.desc())
        )
    )


def delete_session(session_id: str, *, user_id: str | None = None) -> bool:
    """Delete one session (only the given user's, when ``user_id`` is set)."""
    query = delete(Session).where(Session.id == session_id)
    if user_id is not None:
        query = query.where(Session.user_id == user_id)
    deleted = rows_affected(db.session.execute(query))
    db.session.commit()
    return bool(deleted)


def delete_for_user(user_id: str, *, keep: str | None = None) -> int:
    """Delete every session of a user, but ``keep`` (a session id) when given."""
    query = delete(Session).where(Session.user_id == user_id)
    if keep is not None:
        query = query.where(Session.id != keep)
    deleted = rows_affected(db.session.execute(query))
    db.session.commit()
    return int(deleted)
