"""Persistence of signing keys, and the lifecycle operations behind ``flask keys``.

Each operation is one transaction guarded by compare-and-swap updates (``WHERE state = …``,
checked by row count) and by partial unique indexes (one active and one next key per
algorithm), so two hosts rotating at once cannot leave two active keys: one wins, the other
gets :class:`ConcurrentChangeError` and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select, update
from sqlalchemy.exc import IntegrityError

from idp.config import SigningAlg
from idp.keys import crypto, lifecycle
from idp.keys.crypto import KeyEncryption
from idp.models import SigningKey, db
from idp.models.base import rows_affected


class KeyLifecycleError(Exception):
    """An operation on keys was refused; the message says why and what to do."""


class ConcurrentChangeError(KeyLifecycleError):
    pass


@dataclass(frozen=True)
class Rotation:
    retired: str | None
    activated: str
    created: str


def all_keys() -> list[SigningKey]:
    return list(db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


def published_keys() -> list[SigningKey]:
    return list(
        db.session.scalars(
            select(SigningKey)
            .where(SigningKey.state.in_(sorted(lifecycle.PUBLISHED_STATES)))
            .order_by(SigningKey.created_at)
        )
    )


def _new_key(alg: SigningAlg, state: str, now: datetime, encryption: KeyEncryption) -> SigningKey:
    key = crypto.generate(alg)
    kid = key.kid
    assert kid is not None
    blob, kek = encryption.encrypt(crypto.private_pem(key), kid=kid, alg=alg)
    row = SigningKey(
        kid=kid,
        alg=alg,
        state=state,
        public_jwk=json.dumps(crypto.public_jwk(key, alg), separators=(",", ":")),
        private_key=blob,
        kek_id=kek,
        created_at=now,
        activated_at=now if state == "active" else None,
    )
    db.session.add(row)
    return row


def _commit_or_conflict(message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ConcurrentChangeError(message) from None


Locked = TypeVar("Locked", bound=Select[Any])


def _locked(query: Locked) -> Locked:
    """A locking read that sees rows as they are now: objects survive commits in our sessions
    (no expiry on commit), and an earlier read in this session must not stand in for it."""
    return query.with_for_update().execution_options(populate_existing=True)


def _key_in_state(alg: str, state: str) -> SigningKey | None:
    return db.session.scalar(
        _locked(select(SigningKey).where(SigningKey.alg == alg, SigningKey.state == state))
    )


def bootstrap(algs: tuple[SigningAlg, ...], now: datetime, encryption: KeyEncryption) -> bool:
    """A fresh install's first keys: an active and a next key for each of ``algs``.

    Only while no key has ever signed (none is active): no token exists that a verifier could
    fail on, so these keys may sign at once. Afterwards new keys are only published as ``next``.
    Several workers may race here; the unique indexes let one win. True if this call made them.
    """
    if db.session.scalar(select(SigningKey.kid).where(SigningKey.state != "next").limit(1)):
        db.session.rollback()
        return False
    try:
        for alg in algs:
            _new_key(alg, "active", now, encryption)
            if _key_in_state(alg, "next") is None:  # (this query flushes the insert above)
                _new_key(alg, "next", now, encryption)
        db.session.commit()
    except IntegrityError:  # another worker created the first keys a moment before us
        db.session.rollback()
        return False
    return True


def generate(alg: SigningAlg, now: datetime, encryption: KeyEncryption) -> SigningKey:
    """Publish a new ``next`` key for ``alg`` (there is at most one)."""
    existing = _key_in_state(alg, "next")
    if existing is not None:
        db.session.rollback()
        raise KeyLifecycleError(
            f"{alg} already has a next key ({existing.kid}); rotate to promote it first"
        )
    row = _new_key(alg, "next", now, encryption)
    _commit_or_conflict(f"another host created a next {alg} key at the same time")
    return row


def rotate(
    alg: SigningAlg,
    now: datetime,
    encryption: KeyEncryption,
    *,
    min_publish_time: int,
    max_token_lifetime: int,
    refresh_interval: int,
    force: bool = False,
) -> Rotation:
    """Promote ``next`` to ``active``, retire the active key, and publish a new ``next``."""
    candidate = _key_in_state(alg, "next")
    if candidate is None:
        db.session.rollback()
        raise KeyLifecycleError(
            f"{alg} has no next key to promote; run `flask keys generate --alg {alg}`"
        )
    if not force and not lifecycle.may_promote(candidate.created_at, now, min_publish_time):
        ready = lifecycle.promotable_at(candidate.created_at, min_publish_time)
        db.session.rollback()
        raise KeyLifecycleError(
            f"next key {candidate.kid} has been published for less than {min_publish_time} s "
            f"(the JWKS cache lifetime plus the key refresh interval): verifiers may not have it "
            f"yet. It may sign from {ready.isoformat()}; --force overrides."
        )
    current = _key_in_state(alg, "active")
    if current is not None:
        retired = db.session.execute(
            update(SigningKey)
            .where(SigningKey.kid == current.kid, SigningKey.state == "active")
            .values(
                state="retired",
                retired_at=now,
                expires_at=lifecycle.retirement_expiry(
                    now, max_token_lifetime=max_token_lifetime, refresh_interval=refresh_interval
                ),
            )
        )
        if rows_affected(retired) != 1:
            db.session.rollback()
            raise ConcurrentChangeError("another host rotated the keys first; nothing changed")
    promoted = db.session.execute(
        update(SigningKey)
        .where(SigningKey.kid == candidate.kid, SigningKey.state == "next")
        .values(state="active", activated_at=now)
    )
    if rows_affected(promoted) != 1:
        db.session.rollback()
        raise ConcurrentChangeError("another host rotated the keys first; nothing changed")
    db.session.flush()
    created = _new_key(alg, "next", now, encryption)
    _commit_or_conflict("another host rotated the keys first; nothing changed")
    return Rotation(
        retired=current.kid if current else None, activated=candidate.kid, created=created.kid
    )


def revoke(kid: str, now: datetime, encryption: KeyEncryption) -> Rotation | None:
    """Withdraw a compromised key at once. If it was signing, its successor signs from now on.

    Returns the emergency rotation when the active key was revoked.
    """
    row = db.session.scalar(_locked(select(SigningKey).where(SigningKey.kid == kid)))
    if row is None:
        db.session.rollback()
        raise KeyLifecycleError(f"no key with kid {kid}")
    if row.state == "revoked":
        db.session.rollback()
        raise KeyLifecycleError(f"key {kid} is already revoked")
    was_active, was_next = row.state == "active", row.state == "next"
    # A revoked key never signs again: its private half is destroyed, not kept encrypted.
    row.state, row.revoked_at, row.private_key = "revoked", now, ""
    db.session.flush()
    rotation = None
    if was_next:
        _new_key(row.alg, "next", now, encryption)
    if was_active:
        successor = _key_in_state(row.alg, "next")
        if successor is None:
            successor = _new_key(row.alg, "next", now, encryption)
            db.session.flush()
        successor.state, successor.activated_at = "active", now
        db.session.flush()
        created = _new_key(row.alg, "next", now, encryption)
        rotation = Rotation(retired=None, activated=successor.kid, created=created.kid)
    _commit_or_conflict("another host changed the keys at the same time; nothing changed")
    return rotation


def prune(now: datetime) -> list[str]:
    """Delete retired keys whose last token has expired."""
    doomed = list(
        db.session.scalars(
            select(SigningKey.kid).where(
                SigningKey.state == "retired", SigningKey.expires_at <= now
            )
        )
    )
    if doomed:
        db.session.execute(
            delete(SigningKey).where(SigningKey.kid.in_(doomed), SigningKey.state == "retired")
        )
    db.session.commit()
    return doomed


def rewrap(encryption: KeyEncryption) -> int:
    """Re-encrypt every private key under the current key-encryption key."""
    count = 0
    for row in db.session.scalars(_locked(select(SigningKey).where(SigningKey.state != "revoked"))):
        plaintext = encryption.decrypt(row.private_key, kid=row.kid, alg=row.alg, kek=row.kek_id)
        row.private_key, row.kek_id = encryption.encrypt(plaintext, kid=row.kid, alg=row.alg)
        count += 1
    db.session.commit()
    return count


def decrypt(row: SigningKey, encryption: KeyEncryption) -> crypto.SigningJWK:
    pem = encryption.decrypt(row.private_key, kid=row.kid, alg=row.alg, kek=row.kek_id)
    return crypto.load_private(row.alg, pem, row.kid)
