"""The schema revisions this release knows, and Flask-Migrate loaded only for ``flask db``.

Serving processes never run migrations: importing Alembic (with Mako and Pygments) would cost
every gunicorn worker about 11 MB and 0.4 s of start-up for commands that never run there.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

# Every Alembic revision in migrations/versions, oldest first; the last is the head this code
# needs. tests/protocol/test_migrations.py holds it equal to the migration scripts.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
HEAD = REVISIONS[-1]


def migration_state(current: str | None) -> str:
    """ "ok" at our head, or ahead of it (a newer release migrated first: migrations only ever
    add, so this code still runs); not ready while migrations this code needs are pending."""
    if current == HEAD or (current is not None and current not in REVISIONS):
        return "ok"
    return f"pending: at {current}, this release needs {HEAD}"


def init_app(app: Flask, db: SQLAlchemy, **options: Any) -> None:
    """Flask-Migrate's ``app.extensions["migrate"]`` and ``flask db`` commands, both loaded on
    first use."""
    LazyMigrate(app, db, **options)
    app.cli.add_command(_LazyDbCommands(name="db", help="Perform database migrations."))


class _LazyDbCommands(click.Group):
    """``flask db …``: Flask-Migrate's command group, imported when the command line reaches it.

    Its options and callback (which records ``--directory`` for the subcommands) are taken
    from Flask-Migrate's group as the arguments are parsed; its subcommands are looked up there.
    """

    @staticmethod
    def _group() -> click.Group:
        from flask_migrate.cli import db as group  # imported here: the point of this class

        assert isinstance(group, click.Group)
        return group

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group = self._group()
        self.params, self.callback = group.params, group.callback
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)


class LazyMigrate:
    """Stands in ``app.extensions["migrate"]`` until a ``flask db`` command reads it; then
    initialises Flask-Migrate, which takes its place, and answers from it."""

    def __init__(self, app: Flask, db: SQLAlchemy, **options: Any) -> None:
        self._app, self._db, self._options = app, db, options
        app.extensions["migrate"] = self

    def __getattr__(self, name: str) -> Any:
        from flask_migrate import Migrate  # imported here: the point of this class

        Migrate(self._app, self._db, **self._options)
        return getattr(self._app.extensions["migrate"], name)
