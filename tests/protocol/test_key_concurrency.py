"""Two hosts rotating at once never leave two active keys (real concurrency, both databases)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select

from idp.keys import store
from idp.models import SigningKey, db
from idp.runtime import get_runtime

ROUNDS = 5


def _rotate(app: Flask, barrier: threading.Barrier, outcomes: list[str]) -> None:
    with app.app_context():
        runtime = get_runtime(app)
        barrier.wait()
        try:
            store.rotate(
                "RS256",
                runtime.now(),
                runtime.keys.encryption,
                min_publish_time=0,
                max_token_lifetime=900,
                refresh_interval=30,
                force=True,
            )
            outcomes.append("rotated")
        except store.KeyLifecycleError as error:
            outcomes.append(type(error).__name__)
        finally:
            db.session.remove()


def _count(app: Flask, state: str) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(SigningKey)
                .where(SigningKey.state == state, SigningKey.alg == "RS256")
            )
            or 0
        )


def test_concurrent_rotations_leave_exactly_one_active_and_one_next_key(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    other_host = make_app()
    app.test_client().get("/.well-known/jwks.json")  # the first keys
    for _ in range(ROUNDS):
        barrier, outcomes = threading.Barrier(2), list[str]()
        threads = [
            threading.Thread(target=_rotate, args=(host, barrier, outcomes))
            for host in (app, other_host)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert "rotated" in outcomes, outcomes
        assert set(outcomes) <= {"rotated", "ConcurrentChangeError", "KeyLifecycleError"}, outcomes
        assert _count(app, "active") == 1
        assert _count(app, "next") == 1


def test_workers_racing_to_create_the_first_keys_all_get_one(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    hosts = [app, make_app(), make_app(), make_app()]
    barrier, signed = threading.Barrier(len(hosts)), list[str]()

    def first_signer(host: Flask) -> None:
        with host.app_context():
            barrier.wait()
            alg, key = get_runtime(host).keys.signer()
            signed.append(f"{alg}:{key.kid}")
            db.session.remove()

    threads = [threading.Thread(target=first_signer, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(signed) == len(hosts)
    assert len(set(signed)) == 1  # one active RS256 key, whoever created it
    assert _count(app, "active") == 1
