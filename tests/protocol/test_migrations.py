"""The migrations and the models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect

from idp import create_app
from idp.config import PROJECT_ROOT
from idp.models import db
from tests.conftest import FrozenClock, make_settings


def test_models_and_migrations_do_not_drift(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_the_test_database_is_at_the_head_revision(app: Flask) -> None:
    head = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()
    with app.app_context(), db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


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
