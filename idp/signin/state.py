"""Persistence of pending sign-ins (the server-side half of ``state``): in the database, or in
Redis when ``IDP_REDIS_URL`` is set (with the database standing in while Redis is down).

``state`` carries 256 random bits, is stored only as a hash, expires after ``state_ttl``, is
bound to the browser that started the sign-in, and is consumed exactly once: the delete that
consumes it is the check, so two callbacks racing with one state cannot both win. Both stores
keep that contract (tests/protocol/test_pending_sign_ins.py runs one suite against both).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from sqlalchemy import delete, select

from idp.models import SignInState, db
from idp.models.base import rows_affected
from idp.security.secrets import constant_time_equals, token_hash

log = logging.getLogger(__name__)


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


class RedisPendingSignIns:
    """One key per pending sign-in, expiring with it; ``DEL`` is the consume-once check.

    While Redis cannot be reached, the database stands in (availability first, as for the rate
    limits): a sign-in started then is saved there, and every lookup that Redis cannot answer,
    or answers with a miss, asks the database too. A pending sign-in lives in exactly one of
    the two, so consuming it stays a single delete that one caller wins.
    """

    PREFIX = "idp:signin:"

    def __init__(self, client: redis.Redis, fallback: DatabasePendingSignIns) -> None:
        self.client = client
        self.fallback = fallback

    def save(self, pending: PendingSignIn) -> None:
        ttl = pending.expires_at - pending.created_at
        value = json.dumps(asdict(pending), default=datetime.isoformat)
        # Redis forgets it a little after the flow would refuse it (the flow's own clock decides).
        if not self._try(self.client.set, self._key(pending.state_hash), value, ex=ttl + _MARGIN):
            self.fallback.save(pending)

    def find(self, state: str) -> PendingSignIn | None:
        value = self._try(self.client.get, self._key(token_hash(state)))
        if not value:
            return self.fallback.find(state)
        fields = json.loads(value)
        for name in ("created_at", "expires_at"):
            fields[name] = datetime.fromisoformat(fields[name])
        return PendingSignIn(**fields)

    def consume(self, pending: PendingSignIn) -> bool:
        if self._try(self.client.delete, self._key(pending.state_hash)) == 1:
            return True
        return self.fallback.consume(pending)

    def purge_expired(self, now: datetime) -> int:
        return self.fallback.purge_expired(now)  # Redis expires its keys itself

    def _key(self, state_hash: str) -> str:
        return f"{self.PREFIX}{state_hash}"

    @staticmethod
    def _try(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The command's answer, or None when Redis cannot be reached (logged, not raised)."""
        try:
            return method(*args, **kwargs)
        except redis.RedisError as error:
            log.warning(
                "pending sign-ins: Redis unavailable (%s); using the database", type(error).__name__
            )
            return None


_FIELDS = tuple(PendingSignIn.__dataclass_fields__)
_MARGIN = timedelta(seconds=60)


def pending_sign_ins(redis_url: str | None, *, timeout: float) -> PendingSignIns:
    """Where this deployment keeps pending sign-ins."""
    if not redis_url:
        return DatabasePendingSignIns()
    client = redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return RedisPendingSignIns(client, DatabasePendingSignIns())
