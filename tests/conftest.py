"""Shared fixtures: a frozen clock, the database (SQLite or PostgreSQL), the fakes, the app.

The suite runs on SQLite by default and on PostgreSQL when ``IDP_TEST_DATABASE_URL`` names one
(``.ci/run`` does both). The schema is built once per run by the Alembic migrations, and every
table is emptied after each test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from idp import create_app
from idp.config import Settings, load_settings, normalize_database_url
from idp.models import db
from tests.fakes import FakeGoogle, FakeTwitch, FakeUser
from tests.helpers import BASE_URL, KEY_ENCRYPTION_KEY, SECRET_KEY, TRUSTED_ORIGIN

START = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


class FrozenClock:
    """A clock that moves only when a test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def session_clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def clock(session_clock: FrozenClock) -> FrozenClock:
    session_clock.now = START
    return session_clock


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("IDP_TEST_DATABASE_URL")
    if url:
        return normalize_database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def reset_schema(url: str) -> None:
    """An empty database, as a fresh install has: nothing but what the migrations create."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def empty_tables(url: str) -> None:
    """Delete every row, keeping the schema (for servers that share the test database)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    reset_schema(database_url)
    app = create_app(make_settings(database_url, instance=str(tmp_path_factory.mktemp("instance"))))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def google_server(session_clock: FrozenClock) -> Iterator[FakeGoogle]:
    with FakeGoogle(
        client_id="google-client", client_secret="google-secret", clock=session_clock.timestamp
    ) as fake:
        yield fake


@pytest.fixture(scope="session")
def twitch_server(session_clock: FrozenClock) -> Iterator[FakeTwitch]:
    with FakeTwitch(
        client_id="twitch-client", client_secret="twitch-secret", clock=session_clock.timestamp
    ) as fake:
        yield fake


def _reset_fake(fake: FakeGoogle | FakeTwitch) -> None:
    fake.reset()
    fake.timeout_delay = 4.0  # past IDP_UPSTREAM_TIMEOUT=3 in these tests


@pytest.fixture
def google(google_server: FakeGoogle, clock: FrozenClock) -> FakeGoogle:
    _reset_fake(google_server)
    google_server.user = FakeUser(
        sub="google-sub-1",
        email="ada@example.com",
        email_verified=True,
        name="Ada Lovelace",
        picture="https://images.example/ada.png",
    )
    return google_server


@pytest.fixture
def twitch(twitch_server: FakeTwitch, clock: FrozenClock) -> FakeTwitch:
    _reset_fake(twitch_server)
    twitch_server.user = FakeUser(
        sub="41414141",
        email="ada@example.com",
        email_verified=True,
        preferred_username="ada_streams",
        picture="https://images.example/ada-twitch.png",
    )
    return twitch_server


def make_settings(
    database_url: str,
    *,
    instance: str,
    google: FakeGoogle | None = None,
    twitch: FakeTwitch | None = None,
    extra: Mapping[str, str] | None = None,
) -> Settings:
    env = {
        "IDP_ENV": "development",
        "IDP_BASE_URL": BASE_URL,
        "IDP_DATABASE_URL": database_url,
        "IDP_SECRET_KEY": SECRET_KEY,
        "IDP_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
        "IDP_TRUSTED_ORIGINS": TRUSTED_ORIGIN,
        # Long enough for a loaded CI machine; the timeout fault waits longer still.
        "IDP_UPSTREAM_TIMEOUT": "3",
        # Tests sign in many times a second from one address; the limits have tests of their own.
        "IDP_RATE_LIMITS": "false",
    }
    if google is not None:
        env |= {
            "IDP_GOOGLE_CLIENT_ID": google.client_id,
            "IDP_GOOGLE_CLIENT_SECRET": google.client_secret,
            "IDP_GOOGLE_ISSUER": google.issuer,
        }
    if twitch is not None:
        env |= {
            "IDP_TWITCH_CLIENT_ID": twitch.client_id,
            "IDP_TWITCH_CLIENT_SECRET": twitch.client_secret,
            "IDP_TWITCH_ISSUER": twitch.issuer,
        }
    env |= extra or {}
    return load_settings(env, instance_path=instance)


@pytest.fixture
def env_overrides() -> dict[str, str]:
    """Extra IDP_* settings for one test: override this fixture or mutate it before ``app``."""
    return {}


@pytest.fixture
def app(
    migrated_database: str,
    tmp_path: Path,
    clock: FrozenClock,
    google: FakeGoogle,
    twitch: FakeTwitch,
    env_overrides: dict[str, str],
) -> Iterator[Flask]:
    empty_tables(migrated_database)  # whatever a live server before us left behind
    settings = make_settings(
        migrated_database, instance=str(tmp_path), google=google, twitch=twitch, extra=env_overrides
    )
    app = create_app(settings, clock=clock)
    app.testing = True
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    empty_tables(migrated_database)


@pytest.fixture
def make_app(
    migrated_database: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[Callable[..., Flask]]:
    """Build apps with other settings (``IDP_*`` keyword arguments); torn down like ``app``."""
    made: list[Flask] = []

    def build(**env: str) -> Flask:
        settings = make_settings(migrated_database, instance=str(tmp_path), extra=env)
        made.append(create_app(settings, clock=clock))
        return made[-1]

    yield build
    for built in made:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()
    empty_tables(migrated_database)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
