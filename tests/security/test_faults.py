"""Faults of what idp depends on: the database down, unwritable, locked or silent; a sign-in
whose last write fails; a rate-limit store that is down; a worker killed mid-request.

The contract (docs/api.md): while the database cannot be reached, every endpoint that needs it
answers ``503 {"message", "code": "SERVICE_UNAVAILABLE"}`` (OAuth's shape on the OAuth endpoints,
a page on the provider's browser pages) and ``/readyz`` answers 503, and a
sign-in is stored in one transaction, so a failure leaves no user, account or session behind.

Covered elsewhere and not repeated here: an upstream that times out, answers 5xx or sends a
malformed token response (tests/protocol/test_upstream_faults.py); a database failure replacing
the whole sign-in transaction (test_upstream_faults.py::
test_a_database_failure_while_storing_the_sign_in_ends_on_the_error_page); the readiness probe
with the database down (tests/protocol/test_operations.py::
test_readyz_fails_when_the_database_is_unreachable); a sign-in rate limit whose Redis is down
(test_operations.py::test_an_unreachable_limit_store_lets_requests_through).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from idp import create_app
from idp.models import Session as SessionRow
from idp.models import db
from idp.oidc import store as oidc_store
from idp.sessions import store as session_store
from idp.sessions.cookies import SESSION_COOKIE, CookieJar
from tests.conftest import FrozenClock, make_settings
from tests.fakes import FakeGoogle, FakeTwitch, FakeUser, Fault
from tests.helpers import (
    ORIGIN,
    SECRET_KEY,
    path_and_query,
    sign_in,
    signed_in,
    start_sign_in,
    visit_provider,
)
from tests.live import LiveServer
from tests.security.support import StartLive, counts, snapshot

UNAVAILABLE = {"message": "Service temporarily unavailable", "code": "SERVICE_UNAVAILABLE"}
DB_PASSWORD = "db-password-7f3a9c"
JAR = CookieJar(prefix="better-auth", secure=False, domain=None, secret_key=SECRET_KEY)
# A validly signed cookie: the request gets as far as looking the session up in the database.
SIGNED_COOKIE = f"better-auth.session_token={JAR.encode(SESSION_COOKIE, 'a' * 43)}"


def unusable_databases() -> list[Any]:
    return [
        pytest.param(
            f"postgresql://idp:{DB_PASSWORD}@127.0.0.1:1/idp", {}, id="postgres-closed-port"
        ),
        pytest.param(
            f"postgresql://idp:{DB_PASSWORD}@127.0.0.1:1/idp",
            {"IDP_RATE_LIMITS": "true"},  # the limiter's counters live in that database too
            id="postgres-closed-port-with-rate-limits",
        ),
        pytest.param("sqlite:////proc/idp-security-test.sqlite3", {}, id="sqlite-unwritable-path"),
    ]


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/auth/get-session", {"headers": {"Cookie": SIGNED_COOKIE}}),
    ("GET", "/api/auth/token", {"headers": {"Cookie": SIGNED_COOKIE}}),
    ("GET", "/api/auth/list-sessions", {"headers": {"Cookie": SIGNED_COOKIE}}),
    ("GET", "/api/auth/list-accounts", {"headers": {"Cookie": SIGNED_COOKIE}}),
    ("POST", "/api/auth/sign-out", {"headers": {"Cookie": SIGNED_COOKIE, **ORIGIN}}),
    (
        "POST",
        "/api/auth/update-user",
        {"headers": {"Cookie": SIGNED_COOKIE, **ORIGIN}, "json": {"name": "x"}},
    ),
    ("POST", "/api/auth/sign-in/social", {"headers": ORIGIN, "json": {"provider": "dev"}}),
    ("GET", "/api/auth/callback/dev", {"query_string": {"state": "s" * 43, "code": "c"}}),
    ("GET", "/api/auth/jwks", {}),
    ("GET", "/.well-known/jwks.json", {}),
]


OAUTH_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        "/oauth2/token",
        {"data": {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}},
    ),
    ("POST", "/oauth2/revoke", {"data": {"token": "t", "client_id": "c", "client_secret": "s"}}),
    (
        "POST",
        "/oauth2/introspect",
        {"data": {"token": "t", "client_id": "c", "client_secret": "s"}},
    ),
    ("GET", "/oauth2/userinfo", {"headers": {"Authorization": "Bearer t"}}),
]


@pytest.mark.parametrize(("url", "extra"), unusable_databases()[:1])
def test_an_unusable_database_is_a_503_in_oauths_error_shape_on_the_oauth_endpoints(
    make_app: Callable[..., Flask], url: str, extra: dict[str, str]
) -> None:
    """OAuth clients read {"error", "error_description"}: they get it even when idp is down."""
    broken = make_app(IDP_DATABASE_URL=url, **extra)
    browser = broken.test_client(use_cookies=False)
    for method, path, kwargs in OAUTH_REQUESTS:
        response = browser.open(path, method=method, **kwargs)
        assert response.status_code == 503, (path, response.status_code, response.data[:200])
        assert response.get_json() == {
            "error": "temporarily_unavailable",
            "error_description": "Service temporarily unavailable",
        }, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_an_unexpected_error_on_the_token_endpoint_is_an_oauth_server_error(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(client_id: str) -> None:
        raise RuntimeError("a bug with a secret-looking detail")

    monkeypatch.setattr(oidc_store, "find_client", broken)
    form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "x"}
    response = app.test_client().post("/oauth2/token", data=form)
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "server_error",
        "error_description": "Internal server error",
    }
    assert "secret-looking" not in response.get_data(as_text=True)
    assert "unhandled error on POST /oauth2/token" in caplog.text


BROWSER_PAGES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "GET",
        "/oauth2/authorize",
        {
            "query_string": {
                "response_type": "code",
                "client_id": "c1",
                "redirect_uri": "https://rp.example/callback",
                "scope": "openid",
            }
        },
    ),
    ("GET", "/oauth2/logout", {}),
]


@pytest.mark.parametrize(("url", "extra"), unusable_databases()[:1])
def test_an_unusable_database_on_the_providers_browser_pages_is_a_503_page(
    make_app: Callable[..., Flask], url: str, extra: dict[str, str]
) -> None:
    """A person's browser shows these: it gets a page that says what happened, not JSON."""
    broken = make_app(IDP_DATABASE_URL=url, **extra)
    browser = broken.test_client(use_cookies=False)
    for method, path, kwargs in BROWSER_PAGES:
        response = browser.open(path, method=method, headers={"Cookie": SIGNED_COOKIE}, **kwargs)
        assert response.status_code == 503, (path, response.status_code, response.data[:200])
        assert response.mimetype == "text/html", path
        assert "Service temporarily unavailable" in response.get_data(as_text=True), path
        assert response.headers["Cache-Control"] == "no-store", path


def test_an_unexpected_error_on_the_authorization_endpoint_is_a_500_page(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(client_id: str) -> None:
        raise RuntimeError("a bug with a secret-looking detail")

    monkeypatch.setattr(oidc_store, "get_client", broken)
    method, path, kwargs = BROWSER_PAGES[0]
    response = app.test_client().open(path, method=method, **kwargs)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Internal server error" in page
    assert "secret-looking" not in page
    assert "unhandled error on GET /oauth2/authorize" in caplog.text


def test_a_wrong_method_on_an_oauth_endpoint_is_a_json_405_that_says_what_would_do(
    app: Flask,
) -> None:
    response = app.test_client().get("/oauth2/token")
    assert response.status_code == 405
    assert response.get_json()["error"] == "invalid_request"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize(("url", "extra"), unusable_databases())
def test_an_unusable_database_is_a_503_in_our_error_shape(
    make_app: Callable[..., Flask],
    caplog: pytest.LogCaptureFixture,
    url: str,
    extra: dict[str, str],
) -> None:
    broken = make_app(IDP_DATABASE_URL=url, **extra)  # starts anyway (not ready)
    browser = broken.test_client(use_cookies=False)  # the Cookie header goes as written
    for method, path, kwargs in REQUESTS:
        response = browser.open(path, method=method, **kwargs)
        assert response.status_code == 503, (path, response.status_code, response.data[:200])
        assert response.get_json() == UNAVAILABLE, path
        assert response.headers["Cache-Control"] == "no-store", path
    ready = browser.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"] == "unavailable"
    # What needs no database still answers.
    assert browser.get("/healthz").status_code == 200
    assert browser.get("/api/auth/get-session").get_json() is None  # no cookie: nothing to read
    assert browser.get("/.well-known/openid-configuration").status_code == 200
    # The logs say what failed, never the URL or its password.
    assert "database unavailable: OperationalError" in caplog.text
    assert DB_PASSWORD not in caplog.text


@contextmanager
def silent_database() -> Iterator[str]:
    """A TCP port that accepts connections and never says a word (a PostgreSQL server stuck, or
    a firewall that swallows packets after the handshake). Closing it releases the waiters."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"postgresql://idp:{DB_PASSWORD}@127.0.0.1:{listener.getsockname()[1]}/idp"
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def within(seconds: float, call: Callable[[], Any]) -> tuple[bool, Any]:
    """(finished in time, result or exception) of ``call`` run in a thread."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    return (not worker.is_alive(), outcome[0] if outcome else None)


def test_a_database_that_never_answers_is_a_503_within_seconds_not_a_hang(
    migrated_database: str, tmp_path: Path, clock: FrozenClock
) -> None:
    """Without a connect timeout, each request waits for the database forever: gunicorn's gthread
    workers are never recycled for it (their main loop still beats), so every thread of every
    worker ends up stuck and the service stops answering, /healthz included."""
    with silent_database() as url:
        settings = make_settings(
            migrated_database, instance=str(tmp_path), extra={"IDP_DATABASE_URL": url}
        )
        started, app = within(15, lambda: create_app(settings, clock=clock))
        assert started, "create_app() waited more than 15 s on a database that does not answer"
        assert isinstance(app, Flask), app
        browser = app.test_client(use_cookies=False)
        answered, response = within(
            15, lambda: browser.get("/api/auth/get-session", headers={"Cookie": SIGNED_COOKIE})
        )
        assert answered, "get-session waited more than 15 s on a database that does not answer"
        assert response.status_code == 503
        assert response.get_json() == UNAVAILABLE
        answered, ready = within(15, lambda: browser.get("/readyz"))
        assert answered and ready.status_code == 503
        with app.app_context():
            db.engine.dispose()


@pytest.mark.skipif(
    bool(os.environ.get("IDP_TEST_DATABASE_URL")), reason="SQLite only: it locks the database file"
)
def test_a_database_locked_by_another_writer_is_a_503_after_the_busy_timeout_and_recovers(
    app: Flask, google: FakeGoogle, migrated_database: str
) -> None:
    reader = signed_in(app)  # a session made before the lock
    path = migrated_database.removeprefix("sqlite:///")
    lock = sqlite3.connect(path, timeout=1, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        blocked = app.test_client().post(
            "/api/auth/sign-in/social", json={"provider": "google"}, headers=ORIGIN
        )
        waited = time.monotonic() - began
        assert blocked.status_code == 503, blocked.get_json()
        assert blocked.get_json() == UNAVAILABLE
        assert 10 < waited < 30, waited  # the busy timeout (15 s), then a clear answer
        # In WAL mode readers are not blocked by a writer: signed-in users are still recognised.
        assert reader.get("/api/auth/get-session?disableRefresh=1").get_json() is not None
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    recovered = app.test_client().post(
        "/api/auth/sign-in/social", json={"provider": "google"}, headers=ORIGIN
    )
    assert recovered.status_code == 200


# -- no partial writes ----------------------------------------------------------------------------

ERROR_URL = "/oops"


def failing_new_session(*args: object, **kwargs: object) -> session_store.NewSession:
    raise OperationalError("INSERT INTO sessions", {}, Exception("server closed the connection"))


def identity_tables(app: Flask) -> dict[str, list[str]]:
    tables = snapshot(app)
    return {name: tables[name] for name in ("users", "accounts", "sessions")}


def finish_with_failure(app: Flask, browser: Any) -> str:
    back = visit_provider(
        start_sign_in(browser, "google", callbackURL="/ok", errorCallbackURL=ERROR_URL)
    )
    response = browser.get(path_and_query(back))
    assert response.status_code == 302
    location: str = response.headers["Location"]
    return location


def test_a_failed_session_insert_after_the_user_was_added_leaves_nothing(
    app: Flask, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user and account rows are added and flushed before the session; its failure must take
    them back with it (one transaction)."""
    monkeypatch.setattr(session_store, "new_session", failing_new_session)
    browser = app.test_client()
    assert finish_with_failure(app, browser) == f"{ERROR_URL}?error=internal_server_error"
    assert counts(app) == {"users": 0, "accounts": 0, "sessions": 0, "pending": 0}
    assert browser.get("/api/auth/get-session").get_json() is None


def test_a_failed_session_insert_undoes_an_email_claim(
    app: Flask, google: FakeGoogle, twitch: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim takes the address from a holder who never proved it (an UPDATE of that user)
    before creating the newcomer: a failure afterwards must leave the holder's address."""
    twitch.user = FakeUser(sub="t-1", email="ada@example.com", email_verified=True, name="T")
    assert sign_in(app.test_client(), "twitch").status_code == 302  # untrusted: not verified
    before = identity_tables(app)
    monkeypatch.setattr(session_store, "new_session", failing_new_session)

    assert finish_with_failure(app, app.test_client()) == f"{ERROR_URL}?error=internal_server_error"

    assert identity_tables(app) == before


@pytest.mark.parametrize("env_overrides", [{"IDP_TWITCH_TRUST_EMAIL": "true"}])
def test_a_failed_session_insert_undoes_a_link_by_email(
    app: Flask, google: FakeGoogle, twitch: FakeTwitch, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_in(app, "twitch")  # both providers vouch for ada@example.com: Google would link
    before = identity_tables(app)
    monkeypatch.setattr(session_store, "new_session", failing_new_session)

    assert finish_with_failure(app, app.test_client()) == f"{ERROR_URL}?error=internal_server_error"

    assert identity_tables(app) == before


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("INSERT INTO sessions", {}, Exception("disk I/O error")),
        IntegrityError("INSERT INTO sessions", {}, Exception("duplicate key")),  # retried once
    ],
    ids=["operational", "integrity"],
)
def test_a_session_row_refused_by_the_database_leaves_nothing(
    app: Flask, google: FakeGoogle, error: Exception
) -> None:
    """The failure comes from the INSERT itself, at commit, as the database would raise it."""
    attempts: list[object] = []

    def refuse(*args: object) -> None:
        attempts.append(args)
        raise error

    event.listen(SessionRow, "before_insert", refuse)
    try:
        browser = app.test_client()
        assert finish_with_failure(app, browser) == f"{ERROR_URL}?error=internal_server_error"
    finally:
        event.remove(SessionRow, "before_insert", refuse)
    assert counts(app) == {"users": 0, "accounts": 0, "sessions": 0, "pending": 0}
    assert len(attempts) == (2 if isinstance(error, IntegrityError) else 1)


def test_a_failed_sign_in_keeps_the_browsers_previous_session(
    app: Flask, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = signed_in(app)
    before = identity_tables(app)
    monkeypatch.setattr(session_store, "new_session", failing_new_session)

    assert finish_with_failure(app, browser) == f"{ERROR_URL}?error=internal_server_error"

    assert identity_tables(app) == before
    assert browser.get("/api/auth/get-session").get_json() is not None


@pytest.mark.parametrize(
    "env_overrides",
    [
        {
            "IDP_RATE_LIMITS": "true",
            "IDP_RATE_LIMIT_TOKEN": "1/minute",
            "IDP_RATE_LIMIT_ACCOUNT": "1/minute",
            "IDP_REDIS_URL": "redis://127.0.0.1:1/0",
        }
    ],
)
def test_every_limited_endpoint_still_answers_when_the_limit_store_is_down(
    app: Flask, google: FakeGoogle
) -> None:
    """Availability over limiting, beyond sign-in: the token endpoint and account changes."""
    browser = signed_in(app)
    form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "x"}
    assert [browser.post("/oauth2/token", data=form).status_code for _ in range(3)] == [400] * 3
    names = [f"Ada {i}" for i in range(3)]
    for name in names:
        updated = browser.post("/api/auth/update-user", json={"name": name}, headers=ORIGIN)
        assert updated.status_code == 200
    assert browser.get("/api/auth/get-session").get_json()["user"]["name"] == names[-1]


# -- a worker killed in the middle of requests ----------------------------------------------------


@dataclass
class Attempt:
    index: int
    email: str
    cookies: dict[str, str] | None = None  # set when the callback answered 302 with a session
    error: str | None = None


def live_sign_in(
    server: LiveServer, google: FakeGoogle, lock: threading.Lock, index: int
) -> Attempt:
    email = f"user{index}@example.com"
    attempt = Attempt(index, email)
    browser = requests.Session()
    browser.headers["Origin"] = server.url
    try:
        started = browser.post(
            f"{server.url}/api/auth/sign-in/social",
            json={"provider": "google", "callbackURL": f"/done/{index}"},
            timeout=30,
        )
        with lock:  # the fake has one current user: hold it while it issues this one's code
            google.user = FakeUser(sub=f"sub-{index}", email=email, name=f"User {index}")
            at_provider = requests.get(started.json()["url"], allow_redirects=False, timeout=30)
        back = browser.get(at_provider.headers["Location"], allow_redirects=False, timeout=30)
    except (requests.RequestException, ValueError, KeyError) as error:
        attempt.error = type(error).__name__
        return attempt
    if back.status_code == 302 and back.headers.get("Location") == f"/done/{index}":
        if "better-auth.session_token" in back.cookies:
            attempt.cookies = {
                "better-auth.session_token": back.cookies["better-auth.session_token"]
            }
    else:
        attempt.error = f"HTTP {back.status_code}"
    return attempt


def workers_of(master: int) -> list[int]:
    listed = subprocess.run(
        ["ps", "--ppid", str(master), "-o", "pid="], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in listed.stdout.split()]


def wait_for_workers(master: int, count: int, *, besides: set[int], deadline: float) -> list[int]:
    while time.monotonic() < deadline:
        pids = workers_of(master)
        if len(pids) == count and not set(pids) & besides:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not replace the killed worker: {workers_of(master)}")


@pytest.mark.e2e
def test_a_worker_killed_mid_traffic_loses_no_finished_sign_in_and_leaves_no_orphan_rows(
    start_live: StartLive, live_google: FakeGoogle
) -> None:
    server = start_live(workers=2, IDP_UPSTREAM_TIMEOUT="5")
    assert server._process is not None
    master = server._process.pid
    # Every token request takes 0.3 s: sign-ins are in flight in both workers at the kill.
    live_google.timeout_delay = 0.3
    live_google.fail(Fault.TIMEOUT, times=None)
    lock = threading.Lock()
    readers = [
        a for a in (live_sign_in(server, live_google, lock, i) for i in range(3)) if a.cookies
    ]
    assert len(readers) == 3
    stop_reading = threading.Event()
    read_errors: list[str] = []

    def keep_reading(attempt: Attempt) -> int:
        reads = 0
        while not stop_reading.is_set():
            try:
                requests.get(
                    f"{server.url}/api/auth/get-session", cookies=attempt.cookies, timeout=30
                )
                reads += 1
            except requests.RequestException as error:
                read_errors.append(type(error).__name__)
        return reads

    total = 40
    with ThreadPoolExecutor(12) as pool:
        reading = [pool.submit(keep_reading, a) for a in readers]
        signing = [pool.submit(live_sign_in, server, live_google, lock, i) for i in range(3, total)]
        time.sleep(1.5)
        finished_at_kill = sum(f.done() for f in signing)
        victims = workers_of(master)
        assert len(victims) == 2, victims
        os.kill(victims[0], signal.SIGKILL)
        wait_for_workers(master, 2, besides={victims[0]}, deadline=time.monotonic() + 30)
        attempts = [f.result() for f in signing]
        stop_reading.set()
        reads = sum(f.result() for f in reading)
    live_google.clear_faults()

    assert finished_at_kill < len(signing), "the kill came after the traffic"
    succeeded = [a for a in attempts if a.cookies]
    assert len(succeeded) >= total // 2, [a.error for a in attempts]
    assert reads > 0
    # Every sign-in that came back with a session cookie has a session that works, as its user.
    for attempt in [*readers, *succeeded]:
        me = requests.get(f"{server.url}/api/auth/get-session", cookies=attempt.cookies, timeout=30)
        assert me.status_code == 200
        assert me.json() is not None, (attempt.index, "a finished sign-in lost its session")
        assert me.json()["user"]["email"] == attempt.email
    # And the database holds no half-made sign-in.
    engine = create_engine(server.env["IDP_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            orphans = {
                "users without an account": "SELECT count(*) FROM users u WHERE NOT EXISTS "
                "(SELECT 1 FROM accounts a WHERE a.user_id = u.id)",
                "accounts without a user": "SELECT count(*) FROM accounts a WHERE NOT EXISTS "
                "(SELECT 1 FROM users u WHERE u.id = a.user_id)",
                "sessions without a user": "SELECT count(*) FROM sessions s WHERE NOT EXISTS "
                "(SELECT 1 FROM users u WHERE u.id = s.user_id)",
            }
            found = {name: connection.execute(text(sql)).scalar() for name, sql in orphans.items()}
            assert found == dict.fromkeys(orphans, 0)
            emails = connection.execute(text("SELECT count(DISTINCT email) FROM users")).scalar()
            users = connection.execute(text("SELECT count(*) FROM users")).scalar()
            assert emails == users, "one user per identity, even across the kill"
            if engine.dialect.name == "sqlite":
                assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    finally:
        engine.dispose()
    assert "Traceback" not in server.log(), server.log()[-3000:]


@pytest.mark.e2e
def test_the_first_requests_of_a_fresh_install_all_get_a_signing_key(start_live: StartLive) -> None:
    """A fresh install creates its first keys on first use, and several workers (and threads)
    may race to do it: "the unique indexes let one win" (idp/keys/store.py), and the losers
    must then use the winner's key, not answer 500."""
    server = start_live(workers=2)
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda _: requests.get(f"{server.url}/.well-known/jwks.json", timeout=30),
                range(16),
            )
        )
    statuses = [a.status_code for a in answers]
    errors = sorted(set(re.findall(r"\w+(?:Error|Violation): [^\\\n]{0,120}", server.log())))
    assert statuses == [200] * 16, errors
    assert len({a.headers["ETag"] for a in answers}) == 1, "every worker publishes the same keys"
    assert "Traceback" not in server.log(), server.log()[-3000:]
