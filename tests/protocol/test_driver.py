"""The driver-cursor statements (idp.models.driver) read and write exactly what SQLAlchemy's
column types would, on SQLite and PostgreSQL: a timestamp written one way compares and reads
back the same the other way, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import select

from idp.models import OAuthClient, OAuthGrant, OAuthToken, db, driver
from idp.models.driver import DriverSQL, bind_time, read_time
from idp.oidc import store
from tests.oidc_helpers import register

# Whole seconds are the case to watch: Python's own ISO format drops the zero microseconds,
# SQLAlchemy's SQLite storage keeps them, and SQLite compares the two as text.
MOMENTS = [
    datetime(2026, 11, 26, 20, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 20, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 11, 26, 20, 0, 0, 999999, tzinfo=UTC),
    datetime(2026, 11, 26, 23, 30, 5, 120000, tzinfo=timezone(timedelta(hours=3))),
]
_EXPIRES_AFTER = DriverSQL("SELECT id FROM oauth_tokens WHERE id = {p} AND expires_at > {p}")
_TIMES = DriverSQL("SELECT issued_at, expires_at FROM oauth_tokens WHERE id = {p}")


def _grant(now: datetime) -> str:
    client = OAuthClient(
        client_id="driver-test",
        name="Driver test",
        secret_hash=None,
        token_endpoint_auth_method="none",
        redirect_uris=["https://rp.example/callback"],
        post_logout_redirect_uris=[],
        scopes="openid",
        grant_types=["authorization_code"],
        first_party=False,
        created_at=now,
        updated_at=now,
    )
    grant = OAuthGrant(
        id="driver-grant", client_id=client.client_id, scope="openid", created_at=now
    )
    db.session.add_all([client, grant])
    db.session.commit()
    return grant.id


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.isoformat())
def test_a_timestamp_the_orm_wrote_compares_and_reads_the_same_through_the_driver(
    app: Flask, moment: datetime
) -> None:
    with app.app_context():
        grant_id = _grant(moment)
        db.session.add(
            OAuthToken(
                id="orm-token",
                access_token_hash="a" * 64,
                grant_id=grant_id,
                client_id="driver-test",
                scope="openid",
                issued_at=moment,
                expires_at=moment,
            )
        )
        db.session.commit()
        connection = db.session.connection()
        tick = timedelta(microseconds=1)
        for bound, found in ((moment, False), (moment - tick, True), (moment + tick, False)):
            row = driver.fetch_one(
                connection, _EXPIRES_AFTER, ("orm-token", bind_time(connection, bound))
            )
            assert (row is not None) is found, bound
        issued, expires = driver.fetch_one(connection, _TIMES, ("orm-token",))
        assert read_time(issued) == read_time(expires) == moment
        assert read_time(issued).tzinfo is not None


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.isoformat())
def test_a_timestamp_the_driver_wrote_reads_the_same_through_the_orm(
    app: Flask, moment: datetime
) -> None:
    with app.app_context():
        grant_id = _grant(moment)

        class Fixed:
            def identifier(self) -> str:
                return "driver-token"

        store.save_token(
            access_token="access",
            refresh_token="refresh",
            grant_id=grant_id,
            client_id="driver-test",
            user_id=None,
            scope="openid",
            now=moment,
            access_ttl=0,
            refresh_ttl=60,
            random=Fixed(),  # type: ignore[arg-type]
        )
        db.session.expire_all()
        token = db.session.scalar(select(OAuthToken).where(OAuthToken.id == "driver-token"))
        assert token is not None
        assert token.issued_at == token.expires_at == moment
        assert token.refresh_expires_at == moment + timedelta(seconds=60)
        assert token.refreshed_at is None and token.revoked_at is None
        # The ORM's own comparison agrees with the stored text, to the microsecond.
        later = select(OAuthToken.id).where(OAuthToken.expires_at > moment)
        earlier = select(OAuthToken.id).where(
            OAuthToken.expires_at > moment - timedelta(microseconds=1)
        )
        assert db.session.scalar(later) is None
        assert db.session.scalar(earlier) == "driver-token"


def test_a_client_reads_the_same_through_the_driver_as_through_the_orm(app: Flask) -> None:
    registered = register(app, "--grant-type", "refresh_token", first_party=True)
    with app.app_context():
        orm = store.get_client(registered.client_id)
        view = store.find_client(registered.client_id)
        assert orm is not None and view is not None
        for field in store.ClientView.__dataclass_fields__:
            assert getattr(view, field) == getattr(orm, field), field
        assert view.first_party is True
        assert isinstance(view.redirect_uris, list) and isinstance(view.grant_types, list)
        assert store.find_client("no-such-client") is None


def test_naive_timestamps_are_refused(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="naive"):
        bind_time(db.session.connection(), datetime(2026, 11, 26, 20, 0, 0))


def test_percent_signs_in_sql_survive_both_parameter_styles() -> None:
    statement = DriverSQL("SELECT 1 WHERE 'a%' LIKE {p}")
    assert statement._qmark == "SELECT 1 WHERE 'a%' LIKE ?"
    assert statement._format == "SELECT 1 WHERE 'a%%' LIKE %s"
