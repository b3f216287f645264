"""Persistence of pending sign-ins (the server-side half of ``state``): in the database, or in
Redis when ``IDP_REDIS_URL`` is set (with the database standing in while Redis is down).

``state`` carries 256 random bits, is stored only as a hash, expires after ``state_ttl``, is
bound to the browser that started the sign-in, and is consumed exactly once: the delete that
consumes it is the check, so two callbacks racing with one state cannot both win. Both stores
keep that contract (tests/protocol/test_pending_sign_ins.py runs one suite against both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select

from idp.models import SignInState, db
from idp.models.base import rows_affected
from idp.security.secrets import constant_time_equals, token_hash


@dataclass(frozen=True)
class PendingSignIn:
    state_hash: str
    browser_hash: str
    provider_id: str
    code_verifier: str | None
    nonce: str
    callback_url: str
    error_callback_url: str | None
    new_user_callback_url: str | None
    link_user_id: str | None
    created_at: datetime
    expires_at: datetime


def new_pending(
    *,
    state: str,
    browser_secret: str,
    provider_id: str,
    code_verifier: str | None,
    nonce: str,
    callback_url: str,
    error_callback_url: str | None,
    new_user_callback_url: str | None,
    link_user_id: str | None,
    now: datetime,
    ttl: int,
) -> PendingSignIn:
    return PendingSignIn(
        state_hash=token_hash(state),
        browser_hash=token_hash(browser_secret),
        provider_id=provider_id,
        code_verifier=code_verifier,
        nonce=nonce,
        callback_url=callback_url,
        error_callback_url=error_callback_url,
        new_user_callback_url=new_user_callback_url,
        link_user_id=link_user_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )


def is_bound_to(pending: PendingSignIn, browser_secret: str | None) -> bool:
    return browser_secret is not None and constant_time_equals(
        pending.browser_hash, token_hash(browser_secret)
    )


class PendingSignIns(Protocol):
    def save(self, pending: PendingSignIn) -> None: ...

    def find(self, state: str) -> PendingSignIn | None: ...

    def consume(self, pending: PendingSignIn) -> bool:
        """Delete the pending sign-in; True only for the one caller whose delete removed it."""

    def purge_expired(self, now: datetime) -> int:
        """Delete the expired ones; how many went."""


class DatabasePendingSignIns:
    """The ``signin_states`` table (the default)."""

    def save(self, pending: PendingSignIn) -> None:
        db.session.add(SignInState(**asdict(pending)))
        db.session.commit()

    def find(self, state: str) -> PendingSignIn | None:
        row = db.session.scalar(
            select(SignInState).where(SignInState.state_hash == token_hash(state))
        )
        if row is None:
            return None
        return PendingSignIn(**{name: getattr(row, name) for name in _FIELDS})

    def consume(self, pending: PendingSignIn) -> bool:
        query = delete(SignInState).where(SignInState.state_hash == pending.state_hash)
        deleted = rows_affected(db.session.execute(query))
        db.session.commit()
        return deleted == 1

    def purge_expired(self, now: datetime) -> int:
        query = delete(SignInState).where(SignInState.expires_at <= now)
        deleted = rows_affected(db.session.execute(query))
        db.session.commit()
        return int(deleted)


_FIELDS = tuple(PendingSignIn.__dataclass_fields__)


def pending_sign_ins(redis_url: str | None, *, timeout: float) -> PendingSignIns:
    """Where this deployment keeps pending sign-ins."""
    if not redis_url:
        return DatabasePendingSignIns()
    # Imported only here: a deployment without Redis never loads its client (6 MB per worker).
    from idp.signin.redis_state import RedisPendingSignIns, connect

    return RedisPendingSignIns(connect(redis_url, timeout=timeout), DatabasePendingSignIns())
