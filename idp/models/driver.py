"""Statements on the driver's own cursor, for the few hottest queries.

SQLAlchemy's work around each execution (an execution context, result metadata, a type
processor per column, the ORM session's transaction bookkeeping) costs more CPU than SQLite
spends answering a primary-key lookup: on the token endpoint it was a third of the request
(docs/performance.md). The statements here are written once as SQL with ``{p}`` where a
parameter goes, run on the cursor of the SQLAlchemy connection they are given (so they share
its transaction and commit with it), and convert values the way the column types would:

* timestamps go in as SQLAlchemy stores them (SQLite: naive UTC text with microseconds,
  which must match byte for byte, because SQLite compares them as text; PostgreSQL: aware) and
  come out aware UTC;
* booleans come out as ``bool`` (SQLite gives 0 or 1);
* JSON comes out parsed (SQLite gives text; psycopg parses it itself).

tests/protocol/test_driver.py holds these conversions equal to SQLAlchemy's on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection


class DriverSQL:
    """One statement's SQL, with ``{p}`` for each parameter, in the driver's parameter style.
    ``{name}`` takes a constant SQL fragment given as a keyword (a shared column list)."""

    def __init__(self, sql: str, **fragments: str) -> None:
        self.sql = sql
        self._qmark = sql.format(p="?", **fragments)
        self._format = sql.replace("%", "%%").format(p="%s", **fragments)

    def text(self, connection: Connection) -> str:
        return self._qmark if connection.dialect.paramstyle == "qmark" else self._format


def fetch_all(connection: Connection, statement: DriverSQL, params: Sequence[Any]) -> list[Any]:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement.text(connection), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def fetch_one(connection: Connection, statement: DriverSQL, params: Sequence[Any]) -> Any:
    """The first row, or None."""
    rows = fetch_all(connection, statement, params)
    return rows[0] if rows else None


def execute(connection: Connection, statement: DriverSQL, params: Sequence[Any]) -> int:
    """Run a write; how many rows it changed."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement.text(connection), tuple(params))
        return int(cursor.rowcount)
    finally:
        cursor.close()


def bind_time(connection: Connection, value: datetime | None) -> Any:
    """A timestamp as :class:`idp.models.base.UTCDateTime` hands it to this driver."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if connection.dialect.name == "sqlite":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value.astimezone(UTC)


def read_time(value: Any) -> Any:
    """A timestamp as the driver gives it (SQLite: text; PostgreSQL: aware), as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def read_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value
