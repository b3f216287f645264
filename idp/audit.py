"""The audit trail: who did what to whom, when. Ids and codes only: never personal data,
never a secret. Each event is its own small transaction, written after the action it records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from idp.models import AuditEvent, db
from idp.runtime import get_runtime


def record(action: str, *, actor: str, subject: str | None = None, **details: Any) -> None:
    runtime = get_runtime()
    db.session.add(
        AuditEvent(
            id=runtime.random.identifier(),
            at=runtime.now(),
            actor=actor[:64],
            action=action,
            subject=subject,
            details=json.dumps(details, sort_keys=True, default=str) if details else None,
        )
    )
    db.session.commit()


def events(
    *,
    action: str | None = None,
    subject: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if subject:
        query = query.where(AuditEvent.subject == subject)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if since:
        query = query.where(AuditEvent.at >= since)
    return list(db.session.scalars(query))
