"""The key ring of one worker: what it signs with and what it publishes, reloaded periodically.

Every worker on every host reads the same keys from the database and reloads them at least
every ``keys_refresh_interval`` seconds (60 at most), so a rotation or a revocation reaches
all of them within that bound without a restart. The published JWKS document and its ETag are
built once per reload, so serving it costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import KeySet
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from idp.config import ConfigError, SigningAlg
from idp.keys import store
from idp.keys.crypto import KeyDecryptionError, KeyEncryption, SigningJWK
from idp.models import SigningKey, db
from idp.runtime import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    loaded_at: datetime
    signers: dict[str, SigningJWK]  # alg -> the active key
    verification_keys: KeySet
    published_kids: frozenset[str]
    jwks_body: bytes
    etag: str
    next_algs: frozenset[str] = frozenset()


def _jwks_document(rows: list[SigningKey]) -> bytes:
    keys: list[dict[str, Any]] = [json.loads(row.public_jwk) for row in rows]
    return json.dumps({"keys": keys}, separators=(",", ":")).encode()


class KeyRing:
    def __init__(
        self,
        *,
        encryption: KeyEncryption,
        clock: Clock,
        refresh_interval: int,
        default_alg: SigningAlg,
    ) -> None:
        self.encryption = encryption
        self._clock = clock
        self._refresh = timedelta(seconds=refresh_interval)
        self.default_alg = default_alg
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        # Opened private keys by kid, with the sealed form they came from: a reload opens only
        # keys that are new or were sealed again (loading an RSA key costs ~40 ms, which the
        # request that happened to trigger the reload used to pay every refresh interval).
        self._opened: dict[str, tuple[str, SigningJWK]] = {}

    def _load(self) -> Snapshot:
        rows = store.published_keys()
        signers: dict[str, SigningJWK] = {}
        opened: dict[str, tuple[str, SigningJWK]] = {}
        for row in rows:
            if row.state != "active":
                continue
            known = self._opened.get(row.kid)
            if known is not None and known[0] == row.private_key:
                signers[row.alg] = known[1]
                opened[row.kid] = known
                continue
            try:
                signers[row.alg] = store.decrypt(row, self.encryption)
            except KeyDecryptionError as error:
                # The JWKS (public keys) keeps working; signing with this key does not.
                log.error("signing key unusable: %s", error)
                continue
            opened[row.kid] = (row.private_key, signers[row.alg])
        self._opened = opened
        db.session.rollback()  # end the read transaction; nothing was written
        body = _jwks_document(rows)
        return Snapshot(
            loaded_at=self._clock(),
            signers=signers,
            verification_keys=KeySet.import_key_set(json.loads(body)) if rows else KeySet([]),
            published_kids=frozenset(row.kid for row in rows),
            jwks_body=body,
            etag=hashlib.sha256(body).hexdigest()[:32],
            next_algs=frozenset(row.alg for row in rows if row.state == "next"),
        )

    def snapshot(self) -> Snapshot:
        current = self.current()
        if current is not None:
            return current
        with self._lock:
            current = self._snapshot
            if current is None or self._clock() - current.loaded_at >= self._refresh:
                current = self._snapshot = self._load()
        return current

    def current(self) -> Snapshot | None:
        """The snapshot while it is fresh, else None: never touches the database (the fast
        lane asks this, and leaves a reload to a regular request)."""
        current = self._snapshot
        if current is not None and self._clock() - current.loaded_at < self._refresh:
            return current
        return None

    def invalidate(self) -> None:
        """Forget the snapshot; the next use reloads (after a change made in this process)."""
        with self._lock:
            self._snapshot = None

    def signer(self, alg: SigningAlg | None = None) -> tuple[str, SigningJWK]:
        """(alg, key) to sign with. A fresh install gets its first keys here.

        When ``alg`` has no active key on an install that already has keys (the operator chose
        another IDP_SIGNING_ALG), its key is published as ``next`` and RS256 signs meanwhile:
        a key never signs before verifiers could have fetched it.
        """
        wanted = alg or self.default_alg
        key = self.snapshot().signers.get(wanted)
        if key is None and not self.snapshot().signers:
            store.bootstrap(tuple(dict.fromkeys(("RS256", wanted))), self._clock(), self.encryption)
            self.invalidate()
            key = self.snapshot().signers.get(wanted)
        if key is None and wanted != "RS256":
            if wanted not in self.snapshot().next_algs:
                with contextlib.suppress(store.KeyLifecycleError):  # another worker did it first
                    store.generate(wanted, self._clock(), self.encryption)
                self.invalidate()
            log.warning(
                "no active %s key yet: signing with RS256; run `flask keys rotate --alg %s`",
                wanted,
                wanted,
            )
            wanted, key = "RS256", self.snapshot().signers.get("RS256")
        if key is None:
            raise RuntimeError(f"no usable active {wanted} signing key")
        return wanted, key

    def check_decryptable(self) -> None:
        """At start: every stored key must open with the configured key-encryption keys.

        A wrong key-encryption key or a tampered ciphertext stops the server with a clear
        message instead of failing later, or worse, silently minting a fresh key.
        """
        try:
            if not inspect(db.engine).has_table(SigningKey.__tablename__):
                return  # before the first migration
        except OperationalError:
            # The database is down: start anyway and report not ready (/readyz) until it is back.
            log.warning("database unreachable at start: signing keys not checked")
            return
        try:
            for row in store.all_keys():
                if row.state != "revoked":
                    store.decrypt(row, self.encryption)
        except KeyDecryptionError as error:
            raise ConfigError(str(error)) from None
        finally:
            db.session.rollback()
