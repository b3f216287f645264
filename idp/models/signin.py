"""Pending sign-ins: the server-side half of the OAuth ``state``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import UTCDateTime, db


class SignInState(db.Model):  # type: ignore[name-defined,misc]
    """One authorization request sent upstream, waiting for its callback.

    Looked up by the hash of ``state``; bound to the browser that started it by the hash of a
    secret held in a signed cookie; deleted when the callback consumes it (single use).
    """

    __tablename__ = "signin_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    # The PKCE verifier and nonce must be recovered at the callback; they are worthless
    # without the authorization code and live at most ``state_ttl`` seconds.
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(128))
    callback_url: Mapped[str] = mapped_column(Text)
    error_callback_url: Mapped[str | None] = mapped_column(Text)
    new_user_callback_url: Mapped[str | None] = mapped_column(Text)
    # Set when an already signed-in user links another provider (link-social).
    link_user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
