"""Persistence of pending sign-ins (the server-side half of ``state``).

``state`` carries 256 random bits, is stored only as a hash, expires after ``state_ttl``, is
bound to the browser that started the sign-in, and is consumed exactly once: the delete that
consumes it is the check, so two callbacks racing with one state cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from idp.models import SignInState, db
from idp.models.base import rows_affected
from idp.security.secrets import constant_time_equals, token_hash


def save(pending: SignInState) -> None:
    db.session.add(pending)
    db.session.commit()


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
) -> SignInState:
    return SignInState(
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


def find(state: str) -> SignInState | None:
    return db.session.scalar(select(SignInState).where(SignInState.state_hash == token_hash(state)))


def is_bound_to(pending: SignInState, browser_secret: str | None) -> bool:
    return browser_secret is not None and constant_time_equals(
        pending.browser_hash, token_hash(browser_secret)
    )


def consume(pending: SignInState) -> bool:
    """Delete the pending sign-in; True only for the one caller whose delete removed it."""
    deleted = rows_affected(
        db.session.execute(delete(SignInState).where(SignInState.state_hash == pending.state_hash))
    )
    db.session.commit()
    return deleted == 1


def purge_expired(now: datetime) -> int:
    deleted = rows_affected(
        db.session.execute(delete(SignInState).where(SignInState.expires_at <= now))
    )
    db.session.commit()
    return int(deleted)
