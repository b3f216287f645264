"""The badge catalogue and the badges users hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select

from idp.models import Badge, UserBadge, db
from idp.users.presentation import PresentationError, checked_color, checked_slug

MAX_LABEL = 64


@dataclass(frozen=True)
class BadgeSpec:
    label: str
    icon_url: str
    description: str = ""
    color: str | None = None
    display_order: int = 0


def _checked(spec: BadgeSpec) -> BadgeSpec:
    if not spec.label.strip() or len(spec.label) > MAX_LABEL:
        raise PresentationError(f"a badge label is 1 to {MAX_LABEL} characters")
    if not spec.icon_url.startswith("https://") or len(spec.icon_url) > 2048:
        raise PresentationError("a badge icon must be an https URL")
    color = checked_color(spec.color) if spec.color else None
    return BadgeSpec(
        spec.label.strip(), spec.icon_url, spec.description.strip(), color, spec.display_order
    )


def get(slug: str) -> Badge | None:
    return db.session.get(Badge, slug)


def catalogue() -> list[Badge]:
    return list(db.session.scalars(select(Badge).order_by(Badge.display_order, Badge.id)))


def create(slug: str, spec: BadgeSpec, now: datetime) -> Badge:
    slug = checked_slug(slug)
    spec = _checked(spec)
    if get(slug) is not None:
        raise PresentationError(f"badge {slug} already exists")
    badge = Badge(
        id=slug,
        label=spec.label,
        icon_url=spec.icon_url,
        description=spec.description,
        color=spec.color,
        display_order=spec.display_order,
        created_at=now,
        updated_at=now,
    )
    db.session.add(badge)
    db.session.commit()
    return badge


def update(badge: Badge, spec: BadgeSpec, now: datetime) -> Badge:
    spec = _checked(spec)
    badge.label, badge.icon_url, badge.description = spec.label, spec.icon_url, spec.description
    badge.color, badge.display_order, badge.updated_at = spec.color, spec.display_order, now
    db.session.commit()
    return badge


def remove(slug: str) -> bool:
    db.session.execute(delete(UserBadge).where(UserBadge.badge_id == slug))
    removed = db.session.execute(delete(Badge).where(Badge.id == slug))
    db.session.commit()
    return bool(getattr(removed, "rowcount", 0))


def grant(user_id: str, slug: str, *, by: str, now: datetime, expires_at: datetime | None) -> None:
    held = db.session.get(UserBadge, (user_id, slug))
    if held is None:
        db.session.add(
            UserBadge(
                user_id=user_id, badge_id=slug, granted_at=now, granted_by=by, expires_at=expires_at
            )
        )
    else:
        held.granted_at, held.granted_by, held.expires_at = now, by, expires_at
    db.session.commit()


def revoke(user_id: str, slug: str) -> bool:
    removed = db.session.execute(
        delete(UserBadge).where(UserBadge.user_id == user_id, UserBadge.badge_id == slug)
    )
    db.session.commit()
    return bool(getattr(removed, "rowcount", 0))


def shown(user_id: str, now: datetime) -> list[Badge]:
    """The badges a user shows now, in display order: expired ones no longer show."""
    return list(
        db.session.scalars(
            select(Badge)
            .join(UserBadge, UserBadge.badge_id == Badge.id)
            .where(
                UserBadge.user_id == user_id,
                or_(UserBadge.expires_at.is_(None), UserBadge.expires_at > now),
            )
            .order_by(Badge.display_order, Badge.id)
        )
    )
