"""No bearer secret in any log line (OWASP ASVS 4.0.3 V7.1.1, 5.0 V16.2).

A representative journey (sign-in with Google, get-session, the session JWT, an OpenID code flow
with refresh, userinfo, revocation, introspection, logout, and the usual failures on the way) is
made twice: in process with every logger at DEBUG, and through gunicorn with the access log on,
gunicorn at debug and ``IDP_LOG_LEVEL=DEBUG``. Then no access, refresh or ID token, session
token or cookie, session JWT, authorization code (ours or Google's), ``state``, browser secret,
client secret, key-encryption key or ``IDP_SECRET_KEY`` may appear anywhere in the logs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.fakes import FakeGoogle, Fault
from tests.helpers import (
    KEY_ENCRYPTION_KEY,
    ORIGIN,
    SECRET_KEY,
    SESSION_COOKIE,
    STATE_COOKIE,
    cookie_value,
    path_and_query,
    query_of,
    start_sign_in,
    visit_provider,
)
from tests.live import LiveServer
from tests.oidc_helpers import (
    POST_LOGOUT_URI,
    REDIRECT_URI,
    AuthRequest,
    RegisteredClient,
    basic_auth,
    register,
    token_request,
)
from tests.security.support import LIVE_GOOGLE_SECRET, StartLive, logging_off


@dataclass
class Secrets:
    """Every secret the journey met, by kind."""

    found: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str | None) -> None:
        if not value:
            return
        values = self.found.setdefault(kind, set())
        values.add(value)
        if value.count(".") == 2 and len(value) > 100:  # a JWS: its signature alone too
            values.add(value.rsplit(".", 1)[1])
        if "." in value and kind.endswith("cookie"):  # a signed cookie: the value it carries
            values.add(value.rsplit(".", 1)[0])

    def leaks(self, text: str) -> list[str]:
        return sorted(
            f"{kind}: …{value[-8:]}"
            for kind, values in self.found.items()
            for value in values
            if value in text
        )


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write: the message, its arguments, extras, the traceback."""
    parts = [record.getMessage(), repr(record.args)]
    parts += [repr(v) for k, v in vars(record).items() if k not in ("msg", "args", "exc_info")]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


# -- in process, every logger at DEBUG ------------------------------------------------------------


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The root logger and every logger that exists at DEBUG (caplog restores them after)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def in_process_journey(app: Flask, google: FakeGoogle) -> Secrets:
    secrets = Secrets()
    secrets.add("IDP_SECRET_KEY", SECRET_KEY)
    secrets.add("key-encryption key", KEY_ENCRYPTION_KEY)
    secrets.add("Google client secret", google.client_secret)
    client = register(app)
    secrets.add("client secret", client.client_secret)
    browser: FlaskClient = app.test_client()

    # Sign in with Google.
    url = start_sign_in(browser, "google", callbackURL="/home", errorCallbackURL="/oops")
    secrets.add("state", query_of(url)["state"])
    with logging_off():  # the test acting as the browser at Google: not our logs
        back = visit_provider(url)
    secrets.add("Google's authorization code", query_of(back)["code"])
    assert browser.get(path_and_query(back)).status_code == 302
    secrets.add("session cookie", cookie_value(browser))
    secrets.add("state cookie", cookie_value(browser, STATE_COOKIE))
    # The same callback again (replay), and a sign-in whose ID token fails its checks.
    assert "state_mismatch" in browser.get(path_and_query(back)).headers["Location"]
    google.fail(Fault.BAD_SIGNATURE)
    failing = start_sign_in(browser, "google", errorCallbackURL="/oops")
    secrets.add("state", query_of(failing)["state"])
    with logging_off():
        failing_back = visit_provider(failing)
    secrets.add("Google's authorization code", query_of(failing_back)["code"])
    assert "invalid_id_token" in browser.get(path_and_query(failing_back)).headers["Location"]

    # The session and its JWT.
    assert browser.get("/api/auth/get-session").get_json() is not None
    secrets.add("session JWT", browser.get("/api/auth/token").get_json()["token"])

    # An OpenID code flow with refresh, userinfo, revocation, introspection.
    request = AuthRequest(client, scope="openid profile email offline_access")
    authorized = browser.get(request.url())
    code = query_of(authorized.headers["Location"])["code"]
    secrets.add("authorization code", code)
    secrets.add("PKCE verifier", request.verifier)
    tokens = token_request(
        browser,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=request.verifier or "",
    ).get_json()
    for name in ("access_token", "refresh_token", "id_token"):
        secrets.add(name, tokens[name])
    refreshed = token_request(
        browser, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    ).get_json()
    for name in ("access_token", "refresh_token", "id_token"):
        secrets.add(name, refreshed[name])
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert browser.get("/oauth2/userinfo", headers=bearer).status_code == 200
    wrong_secret = RegisteredClient(client.client_id, "not-the-secret")
    assert (
        token_request(
            browser, wrong_secret, grant_type="refresh_token", refresh_token="x"
        ).status_code
        == 401
    )
    introspected = browser.post(
        "/oauth2/introspect", data={"token": refreshed["access_token"]}, headers=basic_auth(client)
    )
    assert introspected.get_json()["active"] is True
    for token in (refreshed["access_token"], refreshed["refresh_token"]):
        revoked = browser.post("/oauth2/revoke", data={"token": token}, headers=basic_auth(client))
        assert revoked.status_code == 200
    reused = token_request(
        browser, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert reused.status_code == 400
    replayed = token_request(
        browser, client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI
    )
    assert replayed.status_code == 400

    # Logout with the ID token as hint.
    out = browser.get(
        "/oauth2/logout",
        query_string={
            "id_token_hint": refreshed["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye",
        },
    )
    assert out.status_code == 302
    assert browser.post("/api/auth/sign-out", headers=ORIGIN).status_code == 200
    return secrets


def test_idps_own_logs_carry_no_secret_at_debug(
    app: Flask, google: FakeGoogle, everything_at_debug: pytest.LogCaptureFixture
) -> None:
    secrets = in_process_journey(app, google)
    ours = [r for r in everything_at_debug.records if r.name == "idp" or r.name.startswith("idp.")]
    assert any("sign-in failed" in r.getMessage() for r in ours), "the journey logged nothing"
    leaks = sorted({f"{r.name}: {leak}" for r in ours for leak in secrets.leaks(record_text(r))})
    assert not leaks, "\n".join(leaks)


def test_no_logger_at_all_carries_a_secret_at_debug(
    app: Flask, google: FakeGoogle, everything_at_debug: pytest.LogCaptureFixture
) -> None:
    """Every logger of the process, the libraries' included: an operator who turns the root
    logger to DEBUG (logging.basicConfig, a log config file) must not get tokens in the logs."""
    secrets = in_process_journey(app, google)
    records = everything_at_debug.records
    # The capture really is at DEBUG, for our loggers and the libraries' (which ones speak at
    # DEBUG is theirs to decide: Authlib, for one, may be filtered).
    assert {r.name.split(".")[0] for r in records} >= {"idp", "urllib3"}
    assert any(r.levelno == logging.DEBUG and not r.name.startswith("idp") for r in records)
    leaks = sorted(
        {
            f"{r.name} ({r.levelname}, {r.msg!r}): {leak}"
            for r in records
            for leak in secrets.leaks(record_text(r))
        }
    )
    assert not leaks, "\n".join(leaks)
    assert secrets.leaks(everything_at_debug.text) == []


# -- through gunicorn -----------------------------------------------------------------------------


def live_journey(server: LiveServer, google: FakeGoogle) -> Secrets:
    secrets = Secrets()
    secrets.add("IDP_SECRET_KEY", SECRET_KEY)
    secrets.add("key-encryption key", KEY_ENCRYPTION_KEY)
    secrets.add("Google client secret", LIVE_GOOGLE_SECRET)
    created = server.flask(
        "clients",
        "create",
        "--name",
        "Log RP",
        "--redirect-uri",
        REDIRECT_URI,
        "--post-logout-redirect-uri",
        POST_LOGOUT_URI,
        "--first-party",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    registered = json.loads(created.stdout)
    client = RegisteredClient(registered["client_id"], registered["client_secret"])
    secrets.add("client secret", client.client_secret)
    auth = (client.client_id, client.client_secret or "")
    browser = requests.Session()
    browser.headers["Origin"] = server.url

    def sign_in(expect: str) -> None:
        started = browser.post(
            f"{server.url}/api/auth/sign-in/social",
            json={"provider": "google", "callbackURL": "/home", "errorCallbackURL": "/oops"},
            timeout=30,
        ).json()["url"]
        secrets.add("state", query_of(started)["state"])
        back = requests.get(started, allow_redirects=False, timeout=30).headers["Location"]
        secrets.add("Google's authorization code", query_of(back)["code"])
        answer = browser.get(back, allow_redirects=False, timeout=30)
        assert expect in answer.headers["Location"], answer.headers["Location"]
        if expect == "/home":
            replay = browser.get(back, allow_redirects=False, timeout=30)
            assert "state_mismatch" in replay.headers["Location"]

    google.fail(Fault.WRONG_NONCE)
    sign_in("invalid_id_token")
    sign_in("/home")
    secrets.add("session cookie", browser.cookies.get(SESSION_COOKIE))
    secrets.add("state cookie", browser.cookies.get(STATE_COOKIE))
    assert browser.get(f"{server.url}/api/auth/get-session", timeout=30).json() is not None
    secrets.add(
        "session JWT", browser.get(f"{server.url}/api/auth/token", timeout=30).json()["token"]
    )

    request = AuthRequest(client, scope="openid profile offline_access")
    authorized = browser.get(f"{server.url}{request.url()}", allow_redirects=False, timeout=30)
    code = query_of(authorized.headers["Location"])["code"]
    secrets.add("authorization code", code)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = requests.post(
        f"{server.url}/oauth2/token",
        data={**form, "code_verifier": request.verifier or ""},
        auth=auth,
        timeout=30,
    ).json()
    for name in ("access_token", "refresh_token", "id_token"):
        secrets.add(name, tokens[name])
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = requests.post(
        f"{server.url}/oauth2/token", data=refresh, auth=auth, timeout=30
    ).json()
    for name in ("access_token", "refresh_token", "id_token"):
        secrets.add(name, refreshed[name])
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert requests.get(f"{server.url}/oauth2/userinfo", headers=bearer, timeout=30).ok
    wrong = requests.post(
        f"{server.url}/oauth2/token", data=refresh, auth=(client.client_id, "no"), timeout=30
    )
    assert wrong.status_code == 401
    for token in (refreshed["access_token"], refreshed["refresh_token"]):
        requests.post(f"{server.url}/oauth2/revoke", data={"token": token}, auth=auth, timeout=30)
    replayed = requests.post(f"{server.url}/oauth2/token", data=form, auth=auth, timeout=30)
    assert replayed.status_code == 400
    out = browser.get(
        f"{server.url}/oauth2/logout",
        params={
            "id_token_hint": refreshed["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
        },
        allow_redirects=False,
        timeout=30,
    )
    assert out.status_code == 302
    return secrets


@pytest.mark.e2e
def test_the_gunicorn_log_carries_no_secret(start_live: StartLive, live_google: FakeGoogle) -> None:
    server = start_live(
        workers=2,
        IDP_LOG_LEVEL="DEBUG",
        GUNICORN_ACCESS_LOG="1",
        GUNICORN_CMD_ARGS="--log-level debug",
    )
    secrets = live_journey(server, live_google)
    log = server.log()
    assert '"logger": "idp.signin.flow"' in log, "the journey logged nothing of ours"
    assert '"GET /api/auth/callback/google"' in log, "no access log"
    leaks = secrets.leaks(log)
    assert not leaks, "\n".join(leaks)
