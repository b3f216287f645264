"""The migrations and the models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect

from idp import create_app
from idp.config import PROJECT_ROOT
from idp.models import db, schema
from tests.conftest import FrozenClock, make_settings


def test_models_and_migrations_do_not_drift(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_the_test_database_is_at_the_head_revision(app: Flask) -> None:
    head = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()
    with app.app_context(), db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_the_revisions_the_code_knows_are_the_migration_scripts_in_order() -> None:
    scripts = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    newest_first = [revision.revision for revision in scripts.walk_revisions()]
    assert tuple(reversed(newest_first)) == schema.REVISIONS
    assert scripts.get_current_head() == schema.HEAD


@pytest.mark.parametrize(
    ("current", "state"),
    [
        (schema.HEAD, "ok"),
        ("0099_from_a_newer_release", "ok"),
        (
            schema.REVISIONS[0],
            f"pending: at {schema.REVISIONS[0]}, this release needs {schema.HEAD}",
        ),
        (None, f"pending: at None, this release needs {schema.HEAD}"),
    ],
)
def test_readiness_reads_the_schema_revision(current: str | None, state: str) -> None:
    assert schema.migration_state(current) == state


# What a serving worker must not load: each costs every worker megabytes it never uses.
NOT_SERVING = {
    "alembic": "migrations (~11 MB): only the `flask db` commands",
    "flask_migrate": "the same",
    "redis": "the Redis client (~6 MB): only when IDP_REDIS_URL is set",
    "psycopg": "the PostgreSQL driver: only on PostgreSQL",
}


def test_serving_loads_only_what_its_configuration_uses(tmp_path: Path) -> None:
    """A worker on the default configuration (SQLite, no Redis) answers a sign-in start, a
    get-session and readiness without loading migrations, Redis or PostgreSQL code."""
    probe = (
        "import sys, wsgi; from flask import Flask; assert isinstance(wsgi.app, Flask); "
        "c = wsgi.app.test_client(); c.get('/readyz'); c.get('/api/auth/get-session'); "
        "c.post('/api/auth/sign-in/social', json={'provider': 'dev'}); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(NOT_SERVING)!r}))"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_ENV": "development",
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "IDP_INSTANCE_PATH": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_migrations_go_down_to_empty_and_back_up(tmp_path: Path, clock: FrozenClock) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    app = create_app(make_settings(url, instance=str(tmp_path)), clock=clock)
    with app.app_context():
        flask_migrate.upgrade()
        assert {"users", "accounts", "sessions", "signin_states"} <= set(
            inspect(db.engine).get_table_names()
        )
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        flask_migrate.upgrade()
        assert "sessions" in inspect(db.engine).get_table_names()
        db.engine.dispose()
