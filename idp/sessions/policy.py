"""Session lifetime rules, as pure functions.

Sessions slide like Better Auth's: a session lives ``expires_in`` seconds from its last refresh,
and is refreshed (its expiry pushed out, its cookie re-issued) at most once per ``update_age``.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def expiry(now: datetime, expires_in: int) -> datetime:
    return now + timedelta(seconds=expires_in)


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return expires_at <= now


def needs_refresh(expires_at: datetime, now: datetime, *, expires_in: int, update_age: int) -> bool:
    """True once ``update_age`` has passed since the session was issued or last refreshed.

    The last refresh time is ``expires_at - expires_in``, so no extra column is needed.
    An ``update_age`` of 0 refreshes on every read.
    """
    last_refresh = expires_at - timedelta(seconds=expires_in)
    return now >= last_refresh + timedelta(seconds=update_age)


def is_fresh(created_at: datetime, now: datetime, fresh_age: int) -> bool:
    return now - created_at < timedelta(seconds=fresh_age)
