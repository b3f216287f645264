"""Fixtures of the hostile-input tests: live gunicorn servers with a real-clock fake Google."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import empty_tables
from tests.fakes import FakeGoogle
from tests.live import LiveServer
from tests.security.support import LIVE_GOOGLE_SECRET, StartLive


@pytest.fixture(scope="module")
def live_google() -> Iterator[FakeGoogle]:
    with FakeGoogle(client_id="live-google", client_secret=LIVE_GOOGLE_SECRET) as fake:
        yield fake


def live_database_url(database_url: str, instance: Path) -> str:
    """A fresh SQLite file per server; on PostgreSQL the shared test database, emptied."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{instance / 'live.sqlite3'}"
    empty_tables(database_url)
    return database_url


@pytest.fixture
def start_live(
    migrated_database: str, tmp_path_factory: pytest.TempPathFactory, live_google: FakeGoogle
) -> Iterator[StartLive]:
    """Start gunicorn (``workers``, extra ``IDP_*`` settings); every server stops after the test."""
    started: list[LiveServer] = []

    def start(*, workers: int = 2, **env: str) -> LiveServer:
        live_google.reset()
        instance = tmp_path_factory.mktemp("live")
        server = LiveServer(
            database_url=live_database_url(migrated_database, instance),
            instance=instance,
            workers=workers,
            env={
                "IDP_GOOGLE_CLIENT_ID": live_google.client_id,
                "IDP_GOOGLE_CLIENT_SECRET": live_google.client_secret,
                "IDP_GOOGLE_ISSUER": live_google.issuer,
                **env,
            },
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
    if not migrated_database.startswith("sqlite"):
        empty_tables(migrated_database)
