"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database, keys, schema)."""

from __future__ import annotations

import logging

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.config import PROJECT_ROOT
from idp.models import db
from idp.runtime import get_runtime

log = logging.getLogger(__name__)
health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


def migration_state(current: str | None) -> str:
    """ "ok" at our head, or ahead of it (a newer release migrated first: migrations only ever
    add, so this code still runs); not ready while migrations this code needs are pending."""
    scripts = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    head = scripts.get_current_head()
    if current == head:
        return "ok"
    known = {revision.revision for revision in scripts.walk_revisions()}
    if current is not None and current not in known:
        return "ok"
    return f"pending: at {current}, this release needs {head}"


@health.get("/readyz")
def readyz() -> Response:
    """Ready when the database answers, the schema is at head, and a signing key is loaded."""
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
        checks["database"] = "ok"
        checks["migrations"] = migration_state(current)
    except SQLAlchemyError as error:
        log.warning("readiness: database unavailable (%s)", type(error).__name__)
        checks["database"] = "unavailable"
        checks["migrations"] = "unknown"
    if checks["database"] == "ok":
        try:
            get_runtime().keys.signer()
            checks["keys"] = "ok"
        except Exception as error:  # a key that does not load is exactly what this reports
            log.warning("readiness: signing keys unavailable (%s)", type(error).__name__)
            checks["keys"] = "unavailable"
    else:
        checks["keys"] = "unknown"
    ready = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
