"""Pending sign-ins in Redis (``IDP_REDIS_URL``), with the database standing in while Redis is
down. Loaded only when Redis is configured (:func:`idp.signin.state.pending_sign_ins`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import redis

from idp.security.secrets import token_hash
from idp.signin.state import DatabasePendingSignIns, PendingSignIn

log = logging.getLogger(__name__)

_MARGIN = timedelta(seconds=60)


def connect(url: str, *, timeout: float) -> redis.Redis:
    """A client that connects on first use and gives up on a command after ``timeout``."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


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
        # The database holds only what was saved there while Redis was down. It is purged once
        # (for what other processes or an earlier run left behind), then only after the last
        # sign-in this process saved there has expired: not on every sign-in start.
        self._purged_once = False
        self._purge_after: datetime | None = None

    def save(self, pending: PendingSignIn) -> None:
        ttl = pending.expires_at - pending.created_at
        value = json.dumps(asdict(pending), default=datetime.isoformat)
        # Redis forgets it a little after the flow would refuse it (the flow's own clock decides).
        if not self._try(self.client.set, self._key(pending.state_hash), value, ex=ttl + _MARGIN):
            self.fallback.save(pending)
            if self._purge_after is None or pending.expires_at > self._purge_after:
                self._purge_after = pending.expires_at

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
        """Redis expires its keys itself; the database is purged as ``__init__`` says. Rows that
        another process saved during an outage are left to that process, or to
        ``flask data prune``."""
        due = self._purge_after is not None and now >= self._purge_after
        if self._purged_once and not due:
            return 0
        self._purged_once = True
        if due:
            self._purge_after = None
        return self.fallback.purge_expired(now)

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
