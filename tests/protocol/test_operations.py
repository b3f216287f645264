"""Health, readiness, metrics, request ids, rate limits and the audit trail."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from idp.models import db, schema
from idp.ops import limits
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import ORIGIN, sign_in


def test_healthz_answers_while_the_process_lives(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_database_migrations_and_keys(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "keys": "ok"},
    }


def test_readyz_is_not_ready_while_migrations_are_pending(app: Flask) -> None:
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '0004'"))
        db.session.commit()
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["migrations"].startswith("pending: at 0004")
    finally:
        with app.app_context():
            db.session.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": schema.HEAD}
            )
            db.session.commit()


def test_readyz_fails_when_the_database_is_unreachable(make_app: Callable[..., Flask]) -> None:
    # Nothing listens on port 1: the server starts anyway and says it is not ready.
    broken = make_app(IDP_DATABASE_URL="postgresql://postgres@127.0.0.1:1/test")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_every_response_carries_a_request_id_and_a_good_one_is_kept(client: FlaskClient) -> None:
    made = client.get("/api/auth/ok").headers["X-Request-ID"]
    assert len(made) == 24
    kept = client.get("/api/auth/ok", headers={"X-Request-ID": "lb-1234abcd"})
    assert kept.headers["X-Request-ID"] == "lb-1234abcd"
    replaced = client.get("/api/auth/ok", headers={"X-Request-ID": "<script>"})
    assert replaced.headers["X-Request-ID"] != "<script>"


def test_metrics_are_served_to_loopback_only_by_default(app: Flask, google: FakeGoogle) -> None:
    browser = app.test_client()
    sign_in(browser, "google")
    local = browser.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200
    text = local.get_data(as_text=True)
    assert 'idp_signins_total{outcome="ok",provider="google"} 1.0' in text
    assert "idp_http_request_duration_seconds_bucket" in text
    assert "idp_upstream_request_duration_seconds_count" in text
    remote = browser.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 404


@pytest.mark.parametrize("env_overrides", [{"IDP_METRICS_TOKEN": "scrape-token-123"}])
def test_a_metrics_token_is_required_when_configured(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert right.status_code == 200


@pytest.mark.parametrize(
    "env_overrides", [{"IDP_RATE_LIMITS": "true", "IDP_RATE_LIMIT_SIGN_IN": "3/minute"}]
)
def test_sign_in_is_rate_limited_per_address_with_retry_after(
    client: FlaskClient, google: FakeGoogle
) -> None:
    for _ in range(3):
        ok = client.post("/api/auth/sign-in/social", json={"provider": "google"}, headers=ORIGIN)
        assert ok.status_code == 200
    limited = client.post("/api/auth/sign-in/social", json={"provider": "google"}, headers=ORIGIN)
    assert limited.status_code == 429
    assert limited.get_json() == {
        "message": "Too many requests. Please try again later.",
        "code": "TOO_MANY_REQUESTS",
    }
    assert int(limited.headers["Retry-After"]) > 0
    other = client.post(
        "/api/auth/sign-in/social",
        json={"provider": "google"},
        headers=ORIGIN,
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 200  # per address


@pytest.mark.parametrize(
    "env_overrides",
    [
        {"IDP_RATE_LIMITS": "true", "IDP_RATE_LIMIT_TOKEN": "2/minute"},
        {
            "IDP_RATE_LIMITS": "true",
            "IDP_RATE_LIMIT_TOKEN": "2/minute",
            "IDP_REDIS_URL": "redis://127.0.0.1:6379/15",
        },
    ],
    ids=["database", "redis"],
)
def test_the_token_endpoint_is_limited_per_client(
    client: FlaskClient, env_overrides: dict[str, str]
) -> None:
    if "IDP_REDIS_URL" in env_overrides:
        import redis

        redis.Redis.from_url(env_overrides["IDP_REDIS_URL"]).flushdb()
    form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "x"}
    statuses = [client.post("/oauth2/token", data=form).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]  # invalid_client, then limited
    other = client.post("/oauth2/token", data={**form, "client_id": "c2"})
    assert other.status_code == 400


@pytest.mark.parametrize(
    "env_overrides", [{"IDP_RATE_LIMITS": "true", "IDP_RATE_LIMIT_TOKEN": "2/minute"}]
)
def test_private_key_jwt_clients_are_limited_by_their_assertions_subject(
    client: FlaskClient,
) -> None:
    """Services that sign assertions send no client_id: each still has its own allowance."""

    def unsigned(subject: str) -> str:
        def part(value: dict[str, str]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        return f"{part({'alg': 'ES256'})}.{part({'sub': subject})}.c2ln"

    def attempt(subject: str) -> int:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": unsigned(subject),
        }
        return client.post("/oauth2/token", data=form).status_code

    assert [attempt("svc-1") for _ in range(3)] == [400, 400, 429]
    assert attempt("svc-2") == 400  # not limited by svc-1's requests
    nested = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "e30." + base64.urlsafe_b64encode(b"[" * 3000).decode() + ".c2ln",
    }
    assert client.post("/oauth2/token", data=nested).status_code == 400  # no subject, no crash


@pytest.mark.parametrize(
    "env_overrides", [{"IDP_RATE_LIMITS": "true", "IDP_RATE_LIMIT_TOKEN": "2/minute"}]
)
def test_no_spelling_of_a_client_escapes_its_allowance(client: FlaskClient) -> None:
    """The Basic scheme in any case, and client_id in the query beside an assertion naming
    someone else each time, all count against the client they name."""
    form = {"grant_type": "client_credentials"}
    credentials = base64.b64encode(b"c1:wrong").decode()
    spelled = [
        client.post(
            "/oauth2/token", data=form, headers={"Authorization": f"{scheme} {credentials}"}
        ).status_code
        for scheme in ("basic", "BASIC", "Basic")
    ]
    assert spelled == [401, 401, 429]

    def junk(subject: str) -> str:
        payload = base64.urlsafe_b64encode(json.dumps({"sub": subject}).encode()).decode()
        return f"e30.{payload.rstrip('=')}.c2ln"

    in_query = [
        client.post(
            "/oauth2/token?client_id=c2",
            data={
                **form,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": junk(f"someone-{n}"),
            },
        ).status_code
        for n in range(3)
    ]
    assert in_query == [400, 400, 429]


@pytest.mark.parametrize(
    ("assertion", "subject"),
    [
        ("e30.eyJzdWIiOiAic3ZjIn0.c2ln", "svc"),  # {} . {"sub": "svc"}
        ("e30." + base64.urlsafe_b64encode(b"[" * 3000).decode() + ".c2ln", ""),
        ("e30.eyJzdWIiOiA3fQ.c2ln", ""),  # {"sub": 7}
        ("e30.bnVsbA.c2ln", ""),  # null
        ("e30.!!!.c2ln", ""),
        ("e30." + "e" * 5000 + ".c2ln", ""),
        ("only.two", ""),
        ("", ""),
        ("e30.eyJzdWIiOiAiXHVkODAwIn0.c2ln", ""),  # {"sub": "\ud800"}: a lone surrogate
    ],
)
def test_the_limiter_reads_an_assertions_subject_without_ever_failing(
    assertion: str, subject: str
) -> None:
    assert limits.claimed_subject(assertion) == subject


@pytest.mark.parametrize(
    "env_overrides",
    [
        {
            "IDP_RATE_LIMITS": "true",
            "IDP_RATE_LIMIT_SIGN_IN": "1/minute",
            "IDP_REDIS_URL": "redis://127.0.0.1:1/0",
        }
    ],
)
def test_an_unreachable_limit_store_lets_requests_through(
    client: FlaskClient, google: FakeGoogle
) -> None:
    for _ in range(3):
        response = client.post(
            "/api/auth/sign-in/social", json={"provider": "google"}, headers=ORIGIN
        )
        assert response.status_code == 200


def test_the_audit_trail_records_sign_ins_and_admin_actions(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    browser = app.test_client()
    sign_in(browser, "google")
    user_id = browser.get("/api/auth/get-session").get_json()["user"]["id"]
    clock.advance(1)  # the trail lists newest first; a frozen clock would tie the two events
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "ban", user_id, "--actor", "mod-ana"]).exit_code == 0
    listed = runner.invoke(args=["audit", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    events = json.loads(listed.output)
    actions = [e["action"] for e in events]
    assert actions[:2] == ["user.banned", "signin.succeeded"]
    assert events[0]["actor"] == "mod-ana"
    assert events[0]["subject"] == user_id
    only = json.loads(runner.invoke(args=["audit", "list", "--action", "signin.", "--json"]).output)
    assert [e["action"] for e in only] == ["signin.succeeded"]
    assert google.user.email is not None
    assert google.user.email not in listed.output
    human = runner.invoke(args=["audit", "list"])
    assert "user.banned" in human.output
