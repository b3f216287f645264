"""Signing keys, shared by every worker on every host through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import UTCDateTime, db


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """One signing key and where it is in its life.

    ``next`` (published, not signing) → ``active`` (signing) → ``retired`` (published, verify
    only, until ``expires_at``) → deleted by ``flask keys prune``; or ``revoked`` at any point
    (never published again; kept for the record). The private key is stored encrypted with
    AES-256-GCM under a key-encryption key identified by ``kek_id``.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (
        # At most one active and one next key per algorithm, whatever races between hosts:
        # the database itself refuses a second one.
        Index(
            "uq_signing_keys_active_alg",
            "alg",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index(
            "uq_signing_keys_next_alg",
            "alg",
            unique=True,
            sqlite_where=text("state = 'next'"),
            postgresql_where=text("state = 'next'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    public_jwk: Mapped[str] = mapped_column(Text)
    private_key: Mapped[str] = mapped_column(Text)  # base64url(nonce || AES-GCM ciphertext)
    kek_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # For a retired key: when the last token it signed has expired and it may be pruned.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
