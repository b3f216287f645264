"""State of the operations layer kept in the database."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import db


class RateLimit(db.Model):  # type: ignore[name-defined,misc]
    """A fixed-window counter (the database fallback for Redis)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
