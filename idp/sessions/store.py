"""Persistence of sessions. Tokens are never stored: only their SHA-256."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from idp.config import Settings
from idp.models import Session, db, driver
from idp.models.base import rows_affected
from idp.models.driver import DriverSQL, read_time
from idp.runtime import Randomness
from idp.security.secrets import token_hash
from idp.sessions import policy
from idp.users.presentation import Presentation

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


# A user's columns in UserView's order, for the statements read through the driver's cursor.
USER_COLUMNS_SQL = """u.id, u.name, u.email, u.email_verified, u.image, u.role, u.name_color,
       u.flair_id, u.banned_at, u.created_at, u.updated_at"""


def user_view(row: Sequence[Any], at: int) -> UserView:
    """The user in ``row[at:]``, selected with :data:`USER_COLUMNS_SQL`."""
    return UserView(
        row[at],
        row[at + 1],
        row[at + 2],
        bool(row[at + 3]),
        row[at + 4],
        row[at + 5],
        row[at + 6],
        row[at + 7],
        read_time(row[at + 8]),
        read_time(row[at + 9]),
        read_time(row[at + 10]),
    )


# get-session runs on every page load: one statement, sent to the driver as written (no
# statement building or ORM loading per request), returning the session, the user, their
# chosen flair and one row per badge held.
_LOOKUP = DriverSQL(
    """
SELECT s.id, s.user_id, s.expires_at, s.created_at, s.updated_at, s.ip_address, s.user_agent,
       {users},
       f.text, f.color,
       b.id, b.label, b.icon_url, b.color, ub.expires_at
FROM sessions s
JOIN users u ON u.id = s.user_id
LEFT JOIN flairs f ON f.id = u.flair_id AND f.user_id = u.id
LEFT JOIN user_badges ub ON ub.user_id = u.id
LEFT JOIN badges b ON b.id = ub.badge_id
WHERE s.token_hash = {p}
ORDER BY b.display_order, b.id
""",
    users=USER_COLUMNS_SQL,
)


@dataclass(frozen=True)
class Found:
    session: SessionView
    user: UserView
    presentation: Presentation


def find_by_token(connection: Connection, token: str, now: datetime) -> Found | None:
    """The session a bearer token opens, with its user and presentation, in one query: alive
    or not (:func:`open_session` decides that). Badges past their expiry are left out."""
    # Straight to the driver's cursor: SQLAlchemy would build result metadata for these 25
    # columns on every call (uncached for textual SQL), which costs more than the query.
    rows = driver.fetch_all(connection, _LOOKUP, (token_hash(token),))
    if not rows:
        return None
    first = rows[0]
    session = SessionView(
        first[0],
        first[1],
        read_time(first[2]),
        read_time(first[3]),
        read_time(first[4]),
        first[5],
        first[6],
    )
    user = user_view(first, 7)
    flair = {"id": user.flair_id, "text": first[18], "color": first[19]} if first[18] else None
    badges = [
        {"id": row[20], "label": row[21], "icon": row[22], "color": row[23]}
        for row in rows
        if row[20] is not None and (row[24] is None or read_time(row[24]) > now)
    ]
    return Found(session, user, Presentation(user.name_color, badges, flair, user.role))


@dataclass(frozen=True)
class Opened:
    """What reading a session cookie's token found, and what it changed."""

    found: Found | None  # None: no live session opens with this token
    extended: bool = False  # the expiry slid: the cookie goes out again with the new lifetime
    changed: bool = False  # statements to commit: an expiry slid or a dead session deleted


def open_session(
    connection: Connection, token: str, now: datetime, *, slide: bool, settings: Settings
) -> Opened:
    """Find the live session of ``token`` and slide it when it is due: the one rule of reading
    a session, for the Flask views and the fast lane. An expired session, or a banned user's,
    is deleted. Statements run on ``connection``, uncommitted."""
    found = find_by_token(connection, token, now)
    if found is None:
        return Opened(None)
    if policy.is_expired(found.session.expires_at, now) or found.user.banned_at is not None:
        connection.execute(delete(Session).where(Session.id == found.session.id))
        return Opened(None, changed=True)
    if not slide or not policy.needs_refresh(
        found.session.expires_at,
        now,
        expires_in=settings.session_expires_in,
        update_age=settings.session_update_age,
    ):
        return Opened(found)
    new_expiry = policy.expiry(now, settings.session_expires_in)
    connection.execute(
        update(Session)
        .where(Session.id == found.session.id)
        .values(expires_at=new_expiry, updated_at=now)
    )
    slid = replace(found.session, expires_at=new_expiry, updated_at=now)
    return Opened(replace(found, session=slid), extended=True, changed=True)


def open_in_request(token: str, now: datetime, *, slide: bool, settings: Settings) -> Opened:
    """:func:`open_session` in the request's database session, committed if it changed."""
    opened = open_session(db.session.connection(), token, now, slide=slide, settings=settings)
    if opened.changed:
        db.session.commit()
    return opened


def open_on(
    engine: Engine, token: str, now: datetime, *, slide: bool, settings: Settings
) -> Opened:
    """:func:`open_session` on a connection of its own (the fast lane has no Flask context)."""
    with engine.connect() as connection:
        opened = open_session(connection, token, now, slide=slide, settings=settings)
        if opened.changed:
            connection.commit()
    return opened


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


def prune(now: datetime) -> int:
    """Delete expired sessions (a presented one is deleted on sight; this finds the rest)."""
    deleted = rows_affected(db.session.execute(delete(Session).where(Session.expires_at <= now)))
    db.session.commit()
    return int(deleted)
