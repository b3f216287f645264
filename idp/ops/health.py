"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database, keys, schema)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from idp.models import db
from idp.models.schema import migration_state
from idp.runtime import get_runtime

log = logging.getLogger(__name__)
health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


def _current_revision(connection: Connection) -> str | None:
    """Alembic's record of the schema revision (None before the first migration)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return str(versions[0]) if len(versions) == 1 else None


@health.get("/readyz")
def readyz() -> Response:
    """Ready when the database answers, the schema is at head, and a signing key is loaded."""
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = _current_revision(connection)
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
