"""Fixtures for journeys through a real gunicorn server and real-clock fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import empty_tables
from tests.fakes import FakeGoogle, FakeTwitch
from tests.live import LiveServer


@pytest.fixture(scope="module")
def live_google() -> Iterator[FakeGoogle]:
    with FakeGoogle(client_id="live-google", client_secret="live-google-secret") as fake:
        yield fake


@pytest.fixture(scope="module")
def live_twitch() -> Iterator[FakeTwitch]:
    with FakeTwitch(client_id="live-twitch", client_secret="live-twitch-secret") as fake:
        yield fake


def live_database_url(database_url: str, instance: Path) -> str:
    """A fresh SQLite file per server; on PostgreSQL the shared test database, emptied."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{instance / 'live.sqlite3'}"
    empty_tables(database_url)
    return database_url


@pytest.fixture(scope="module")
def live_server(
    migrated_database: str,
    tmp_path_factory: pytest.TempPathFactory,
    live_google: FakeGoogle,
    live_twitch: FakeTwitch,
) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("live")
    env = {
        "IDP_GOOGLE_CLIENT_ID": live_google.client_id,
        "IDP_GOOGLE_CLIENT_SECRET": live_google.client_secret,
        "IDP_GOOGLE_ISSUER": live_google.issuer,
        "IDP_TWITCH_CLIENT_ID": live_twitch.client_id,
        "IDP_TWITCH_CLIENT_SECRET": live_twitch.client_secret,
        "IDP_TWITCH_ISSUER": live_twitch.issuer,
    }
    server = LiveServer(
        database_url=live_database_url(migrated_database, instance), instance=instance, env=env
    )
    with server:
        yield server
