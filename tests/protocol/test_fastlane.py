"""The fast lane (idp/fastlane.py) answers get-session and the JWKS exactly as Flask would.

Each case is sent twice from the same database state: through the whole stack (the lane) and
to Flask behind it. Status, headers (but the request id, which is new each time) and body
must be equal, and so must what the request changed (a slid expiry, a deleted session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, request_started
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from werkzeug.test import Client, TestResponse

from idp.fastlane import GET_SESSION_PATH, FastLane
from idp.models import Badge, Flair, Session, User, UserBadge, db
from idp.ops.logs import REQUEST_ID
from idp.runtime import get_runtime
from idp.sessions.cookies import SESSION_COOKIE
from idp.sessions.store import new_session
from tests.conftest import FrozenClock
from tests.helpers import BASE_URL, TRUSTED_ORIGIN

DAY = 86400


@dataclass
class Browser:
    """A signed-in user: the cookie header that carries their session."""

    user_id: str
    session_id: str
    cookie: str


def lane_of(app: Flask) -> FastLane:
    lane = app.wsgi_app
    assert isinstance(lane, FastLane)
    return lane


def make_user(app: Flask, clock: FrozenClock, *, user_id: str = "u1") -> Browser:
    now = clock()
    with app.app_context():
        runtime = get_runtime()
        db.session.add(
            User(
                id=user_id,
                name="Ann Example",
                email=f"{user_id}@example.com",
                email_verified=True,
                image="https://img.example/a.png",
                name_color="#2563EB",
                created_at=now - timedelta(days=30),
                updated_at=now - timedelta(days=2),
            )
        )
        db.session.flush()
        made = new_session(
            user_id=user_id,
            now=now,
            expires_in=runtime.settings.session_expires_in,
            random=runtime.random,
            ip_address="203.0.113.7",
            user_agent="Mozilla/5.0 (test)",
        )
        db.session.commit()
        jar = runtime.cookies
        cookie = f"{jar.name(SESSION_COOKIE)}={jar.encode(SESSION_COOKIE, made.token)}"
        return Browser(user_id, made.session.id, cookie)


def decorate(app: Flask, clock: FrozenClock, user_id: str) -> None:
    """A chosen flair and three badges: one expired, two shown in display order."""
    now = clock()
    with app.app_context():
        for slug, order in (("mod", 2), ("founder", 1), ("old", 0)):
            db.session.add(
                Badge(
                    id=slug,
                    label=slug.title(),
                    icon_url=f"https://img.example/{slug}.svg",
                    color="#16A34A",
                    display_order=order,
                    created_at=now,
                    updated_at=now,
                )
            )
        db.session.add(
            Flair(id="f1", user_id=user_id, text="🎮 gamer", color="#DC2626", created_at=now)
        )
        db.session.flush()
        for slug in ("mod", "founder", "old"):
            expires = now - timedelta(seconds=1) if slug == "old" else None
            db.session.add(
                UserBadge(
                    user_id=user_id,
                    badge_id=slug,
                    granted_at=now,
                    granted_by="admin",
                    expires_at=expires,
                )
            )
        db.session.execute(update(User).where(User.id == user_id).values(flair_id="f1"))
        db.session.commit()


def session_row(app: Flask, session_id: str) -> dict[str, Any] | None:
    with app.app_context():
        row = db.session.scalar(select(Session).where(Session.id == session_id))
        if row is None:
            return None
        values = {c.name: getattr(row, c.name) for c in Session.__table__.columns}
        db.session.rollback()
        return values


def restore(app: Flask, values: dict[str, Any] | None, session_id: str) -> None:
    with app.app_context():
        db.session.execute(Session.__table__.delete().where(Session.id == session_id))
        if values is not None:
            db.session.execute(Session.__table__.insert().values(**values))
        db.session.commit()


def normalized(response: TestResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    request_ids = response.headers.getlist("X-Request-ID")
    assert len(request_ids) == 1 and REQUEST_ID.fullmatch(request_ids[0])
    headers = sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")
    return response.status_code, headers, response.get_data()


def same_answer(
    app: Flask,
    path: str,
    *,
    session_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """Send one request to the lane and to Flask, from the same state; both must agree."""
    before = session_row(app, session_id) if session_id else None
    through_lane = Client(app.wsgi_app, use_cookies=False).get(path, headers=headers)
    after_lane = session_row(app, session_id) if session_id else None
    if session_id:
        restore(app, before, session_id)
    through_flask = Client(lane_of(app).following, use_cookies=False).get(path, headers=headers)
    after_flask = session_row(app, session_id) if session_id else None
    assert normalized(through_lane) == normalized(through_flask)
    assert after_lane == after_flask
    return through_lane


@pytest.fixture
def browser(app: Flask, clock: FrozenClock) -> Browser:
    return make_user(app, clock)


@pytest.fixture
def flask_dispatches(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(sender: Flask, **extra: Any) -> None:
        seen.append("flask")

    request_started.connect(record, app)
    yield seen
    request_started.disconnect(record, app)


def test_signed_out_get_session_is_the_same_null(app: Flask) -> None:
    answer = same_answer(app, "/api/auth/get-session")
    assert answer.get_data() == b"null\n"


def test_a_signed_in_get_session_is_the_same_user_and_presentation(
    app: Flask, clock: FrozenClock, browser: Browser
) -> None:
    decorate(app, clock, browser.user_id)
    answer = same_answer(
        app,
        "/api/auth/get-session",
        session_id=browser.session_id,
        headers={"Cookie": browser.cookie},
    )
    user = answer.get_json()["user"]
    assert [b["id"] for b in user["badges"]] == ["founder", "mod"]
    assert user["flair"] == {"id": "f1", "text": "🎮 gamer", "color": "#DC2626"}
    assert "Set-Cookie" not in answer.headers  # not due to slide yet


@pytest.mark.parametrize(
    ("query", "slides"),
    [
        ("", True),
        ("?disableRefresh=true", False),
        ("?disableRefresh=false", False),
        ("?disableRefresh=", True),
    ],
)
def test_a_session_due_to_slide_slides_the_same_way(
    app: Flask, clock: FrozenClock, browser: Browser, query: str, slides: bool
) -> None:
    clock.advance(2 * DAY)
    answer = same_answer(
        app,
        f"/api/auth/get-session{query}",
        session_id=browser.session_id,
        headers={"Cookie": browser.cookie},
    )
    assert ("Set-Cookie" in answer.headers) is slides


@pytest.mark.parametrize(
    "case", ["tampered", "revoked", "expired", "banned", "oversized", "not ours"]
)
def test_a_cookie_that_opens_no_session_is_answered_the_same_way(
    app: Flask, clock: FrozenClock, browser: Browser, case: str
) -> None:
    name, _, value = browser.cookie.partition("=")
    cookie = browser.cookie
    if case == "tampered":
        cookie = f"{name}={value[:-2]}xx"
    elif case == "oversized":
        cookie = f"{name}={'a' * 600}"
    elif case == "not ours":
        cookie = f"{name}=plain-token-without-signature"
    elif case == "revoked":
        restore(app, None, browser.session_id)
    elif case == "expired":
        clock.advance(8 * DAY)
    elif case == "banned":
        with app.app_context():
            db.session.execute(
                update(User).where(User.id == browser.user_id).values(banned_at=clock())
            )
            db.session.commit()
    answer = same_answer(
        app, "/api/auth/get-session", session_id=browser.session_id, headers={"Cookie": cookie}
    )
    assert answer.get_data() == b"null\n"
    clears = case in ("revoked", "expired", "banned")
    assert ("Set-Cookie" in answer.headers) is clears
    if case in ("expired", "banned"):
        assert session_row(app, browser.session_id) is None


@pytest.mark.parametrize(
    "origin", [TRUSTED_ORIGIN, BASE_URL, TRUSTED_ORIGIN.upper(), "https://evil.example", "null"]
)
def test_cors_on_get_session_is_the_same(app: Flask, browser: Browser, origin: str) -> None:
    answer = same_answer(
        app,
        "/api/auth/get-session",
        session_id=browser.session_id,
        headers={"Cookie": browser.cookie, "Origin": origin},
    )
    trusted = origin.lower() in (TRUSTED_ORIGIN, BASE_URL)
    assert (answer.headers.get("Access-Control-Allow-Origin") == origin) is trusted


def test_cors_with_a_single_trusted_origin_is_the_same(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    app = make_app(IDP_TRUSTED_ORIGINS="")
    browser = make_user(app, clock)
    same_answer(
        app,
        "/api/auth/get-session",
        session_id=browser.session_id,
        headers={"Cookie": browser.cookie, "Origin": BASE_URL},
    )


def test_an_offered_request_id_is_kept_and_a_bad_one_replaced(app: Flask, browser: Browser) -> None:
    for offered, kept in (("req-0123456789abcdef", True), ("bad id!", False)):
        answer = Client(app.wsgi_app, use_cookies=False).get(
            "/api/auth/get-session", headers={"Cookie": browser.cookie, "X-Request-ID": offered}
        )
        assert (answer.headers["X-Request-ID"] == offered) is kept


def jwks_etag(app: Flask) -> str:
    first = app.test_client().get("/.well-known/jwks.json")  # a fresh install's first key
    assert first.status_code == 200
    return str(first.headers["ETag"])


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/api/auth/jwks"])
@pytest.mark.parametrize(
    "if_none_match", [None, "current", "weak", "other", "*"], ids=lambda v: str(v)
)
def test_the_jwks_is_the_same_document_and_revalidates_the_same_way(
    app: Flask, path: str, if_none_match: str | None
) -> None:
    etag = jwks_etag(app)
    offered = {
        None: None,
        "current": etag,
        "weak": f"W/{etag}",
        "other": '"0123"',
        "*": "*",
    }[if_none_match]
    headers = {"Origin": TRUSTED_ORIGIN}
    if offered is not None:
        headers["If-None-Match"] = offered
    answer = same_answer(app, path, headers=headers)
    assert answer.status_code == (200 if if_none_match in (None, "other") else 304)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_the_lane_answers_without_flask_and_leaves_everything_else_to_it(
    app: Flask, browser: Browser, flask_dispatches: list[str]
) -> None:
    jwks_etag(app)
    flask_dispatches.clear()
    client = Client(app.wsgi_app, use_cookies=False)
    assert (
        client.get("/api/auth/get-session", headers={"Cookie": browser.cookie}).status_code == 200
    )
    assert client.get("/.well-known/jwks.json").status_code == 200
    assert flask_dispatches == []
    assert client.head("/api/auth/get-session").status_code == 200
    assert client.get("/api/auth/get-session/").status_code == 404
    assert client.get("/api/auth/ok").status_code == 200
    assert flask_dispatches == ["flask", "flask", "flask"]


def test_a_key_ring_due_for_reload_is_reloaded_by_flask_then_served_by_the_lane(
    app: Flask, clock: FrozenClock, flask_dispatches: list[str]
) -> None:
    etag = jwks_etag(app)
    clock.advance(get_runtime(app).settings.keys_refresh_interval + 1)
    flask_dispatches.clear()
    client = Client(app.wsgi_app, use_cookies=False)
    assert client.get("/.well-known/jwks.json").headers["ETag"] == etag
    assert client.get("/.well-known/jwks.json").headers["ETag"] == etag
    assert flask_dispatches == ["flask"]  # the reload; then the lane again


def test_a_database_error_in_the_lane_is_answered_by_flasks_error_handler(
    app: Flask, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr("idp.sessions.store.find_by_token", down)
    answer = Client(app.wsgi_app, use_cookies=False).get(
        "/api/auth/get-session", headers={"Cookie": browser.cookie}
    )
    assert answer.status_code == 503
    assert answer.get_json() == {
        "message": "Service temporarily unavailable",
        "code": "SERVICE_UNAVAILABLE",
    }


def test_a_bug_in_the_lane_costs_nothing_but_a_log_line(
    app: Flask, browser: Browser, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(environ: Any) -> Any:
        calls.append("lane")
        raise KeyError("a bug")

    monkeypatch.setitem(lane_of(app).handlers, GET_SESSION_PATH, broken)
    answer = Client(app.wsgi_app, use_cookies=False).get(
        "/api/auth/get-session", headers={"Cookie": browser.cookie}
    )
    assert calls == ["lane"]
    assert answer.status_code == 200 and answer.get_json()["user"]["id"] == browser.user_id
    assert "fast lane failed" in caplog.text
    logged = [getattr(r, "fields", {}).get("request_id") for r in caplog.records]
    assert answer.headers["X-Request-ID"] in logged  # the same id in the log and the answer
    assert browser.cookie.partition("=")[2] not in caplog.text


def test_the_lane_counts_its_answers_in_the_metrics(app: Flask, browser: Browser) -> None:
    client = Client(app.wsgi_app, use_cookies=False)
    client.get("/api/auth/get-session", headers={"Cookie": browser.cookie})
    scraped = app.test_client().get("/metrics").get_data(as_text=True)
    assert (
        'idp_http_requests_total{endpoint="api.get_session",method="GET",status="200"}' in scraped
    )
