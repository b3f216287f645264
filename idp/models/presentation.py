"""How users appear in chat: the badge catalogue, badges held, flairs, and the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import UTCDateTime, db


class Badge(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "badges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the slug
    label: Mapped[str] = mapped_column(String(64))
    icon_url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str | None] = mapped_column(String(7))
    display_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserBadge(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_badges"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    badge_id: Mapped[str] = mapped_column(
        ForeignKey("badges.id", ondelete="CASCADE"), primary_key=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Flair(db.Model):  # type: ignore[name-defined,misc]
    """A flair an admin made available to one user; the user picks one of theirs (or none)."""

    __tablename__ = "flairs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(64))
    color: Mapped[str | None] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """Who did what to whom, when. Holds ids and codes, never personal data or secrets."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[str | None] = mapped_column(Text)  # JSON
