"""The rules of a key's life, as pure functions.

A ``next`` key is published before it signs, long enough for every worker to serve it and for
every verifier's cached key set to expire (``min_publish_time``); a retired key stays
published until every token it signed has expired. Compare Dex (server/signer/rotation.go),
which signs with a new key at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

PUBLISHED_STATES = frozenset({"next", "active", "retired"})


def may_promote(next_created_at: datetime, now: datetime, min_publish_time: int) -> bool:
    return now - next_created_at >= timedelta(seconds=min_publish_time)


def promotable_at(next_created_at: datetime, min_publish_time: int) -> datetime:
    return next_created_at + timedelta(seconds=min_publish_time)


def retirement_expiry(now: datetime, *, max_token_lifetime: int, refresh_interval: int) -> datetime:
    """When a key retired ``now`` may be pruned.

    Workers that have not reloaded yet may sign with it for up to ``refresh_interval`` more
    seconds, and each such token lives ``max_token_lifetime``.
    """
    return now + timedelta(seconds=max_token_lifetime + refresh_interval)


def is_published(state: str) -> bool:
    return state in PUBLISHED_STATES
