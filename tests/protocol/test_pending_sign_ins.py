"""One contract for both stores of pending sign-ins (database and Redis), and a whole sign-in
through Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from idp.models import SignInState, db
from idp.runtime import get_runtime
from idp.signin.redis_state import RedisPendingSignIns
from idp.signin.state import (
    DatabasePendingSignIns,
    PendingSignIn,
    PendingSignIns,
    is_bound_to,
    new_pending,
)
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import sign_in

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(params=["database", "redis"])
def pending_store(request: pytest.FixtureRequest, app: Flask) -> Iterator[PendingSignIns]:
    with app.app_context():
        if request.param == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            client.flushdb()
            yield RedisPendingSignIns(client, DatabasePendingSignIns())
            client.flushdb()
        else:
            yield DatabasePendingSignIns()


def pending(clock: FrozenClock, state: str = "s" * 43, *, ttl: int = 600) -> PendingSignIn:
    return new_pending(
        state=state,
        browser_secret="browser-secret",
        provider_id="google",
        code_verifier="v" * 64,
        nonce="n" * 22,
        callback_url="https://app.example/dashboard?tab=1",
        error_callback_url=None,
        new_user_callback_url="https://app.example/welcome",
        link_user_id=None,
        now=clock(),
        ttl=ttl,
    )


def test_a_saved_sign_in_is_found_by_its_state_as_it_was(
    pending_store: PendingSignIns, clock: FrozenClock
) -> None:
    saved = pending(clock)
    pending_store.save(saved)
    assert pending_store.find("s" * 43) == saved
    assert pending_store.find("t" * 43) is None


def test_only_its_hashes_are_stored(pending_store: PendingSignIns, clock: FrozenClock) -> None:
    saved = pending(clock)
    assert "s" * 43 not in repr(saved) and "browser-secret" not in repr(saved)
    assert is_bound_to(saved, "browser-secret") and not is_bound_to(saved, "another")
    assert not is_bound_to(saved, None)


def test_one_of_eight_racing_consumers_wins(
    pending_store: PendingSignIns, clock: FrozenClock, app: Flask
) -> None:
    saved = pending(clock)
    pending_store.save(saved)
    barrier, wins = threading.Barrier(8), list[bool]()

    def consumer() -> None:
        with app.app_context():
            barrier.wait()
            wins.append(pending_store.consume(saved))
            db.session.remove()

    threads = [threading.Thread(target=consumer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert pending_store.find("s" * 43) is None


def test_expired_ones_are_purged_or_expire_by_themselves(
    pending_store: PendingSignIns, clock: FrozenClock
) -> None:
    pending_store.save(pending(clock, "a" * 43, ttl=60))
    pending_store.save(pending(clock, "b" * 43, ttl=600))
    purged = pending_store.purge_expired(clock() + timedelta(seconds=61))
    if isinstance(pending_store, DatabasePendingSignIns):
        assert purged == 1 and pending_store.find("a" * 43) is None
    assert pending_store.find("b" * 43) is not None


def test_redis_keys_expire_a_little_after_the_sign_in(clock: FrozenClock) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    store = RedisPendingSignIns(client, DatabasePendingSignIns())
    store.save(pending(clock, ttl=600))
    (key,) = client.keys("idp:signin:*")
    assert 600 < client.ttl(key) <= 660
    client.flushdb()


def up_and_down() -> tuple[redis.Redis, RedisPendingSignIns, RedisPendingSignIns]:
    """An emptied Redis, a store on it, and a store whose Redis cannot be reached (two hosts
    during an outage of one's Redis), both over the same database."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    unreachable = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    return (
        client,
        RedisPendingSignIns(client, DatabasePendingSignIns()),
        RedisPendingSignIns(unreachable, DatabasePendingSignIns()),
    )


def test_while_redis_is_down_the_database_stands_in_and_both_are_read(
    app: Flask, clock: FrozenClock
) -> None:
    client, up, down = up_and_down()
    with app.app_context():
        in_redis, in_database = pending(clock, "r" * 43), pending(clock, "d" * 43)
        up.save(in_redis)
        down.save(in_database)  # Redis unreachable: saved in the database
        assert db.session.scalar(select(func.count()).select_from(SignInState)) == 1
        # Redis is back: a sign-in started during the outage still finishes, once.
        assert up.find("d" * 43) == in_database
        assert up.consume(in_database) and not up.consume(in_database)
        assert up.find("r" * 43) == in_redis
        assert down.find("r" * 43) is None  # Redis down: only the database is asked
        assert up.consume(in_redis) and not up.consume(in_redis)
    client.flushdb()


def test_with_redis_the_database_is_purged_only_after_it_stood_in(
    app: Flask, clock: FrozenClock
) -> None:
    def rows() -> int:
        return int(db.session.scalar(select(func.count()).select_from(SignInState)) or 0)

    client, up, down = up_and_down()
    start = clock()
    with app.app_context():
        down.save(pending(clock, "o" * 43, ttl=60))  # another process's, during an outage
        assert up.purge_expired(start + timedelta(seconds=61)) == 1  # the first purge looks
        up.save(pending(clock, "r" * 43, ttl=60))  # in Redis
        down.save(pending(clock, "x" * 43, ttl=60))
        assert up.purge_expired(start + timedelta(seconds=61)) == 0  # never stood in: no purge
        assert rows() == 1
        assert down.purge_expired(start) == 0  # its first purge: nothing has expired yet
        assert down.purge_expired(start + timedelta(seconds=30)) == 0  # its row is still live
        assert down.purge_expired(start + timedelta(seconds=60)) == 1  # now it has expired
        down.save(pending(clock, "y" * 43, ttl=60))
        clock.advance(120)
        up.save(pending(clock, "z" * 43, ttl=60))
        assert up.purge_expired(clock() + timedelta(seconds=61)) == 0  # not ours: left behind
        assert rows() == 1
    client.flushdb()


def test_with_redis_configured_a_whole_sign_in_keeps_its_state_there(
    make_app: Callable[..., Flask], google: FakeGoogle
) -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()
    app = make_app(
        IDP_GOOGLE_CLIENT_ID=google.client_id,
        IDP_GOOGLE_CLIENT_SECRET=google.client_secret,
        IDP_GOOGLE_ISSUER=google.issuer,
        IDP_REDIS_URL=REDIS_URL,
    )
    assert isinstance(get_runtime(app).pending, RedisPendingSignIns)
    browser = app.test_client()
    assert sign_in(browser, "google").status_code == 302
    assert browser.get("/api/auth/get-session").get_json()["user"]["email"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SignInState)) == 0
    assert redis.Redis.from_url(REDIS_URL).keys("idp:signin:*") == []  # consumed
