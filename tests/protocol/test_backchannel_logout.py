"""OpenID Connect Back-Channel Logout 1.0: when a user's sessions end, every client that signed
the user in from one of them and registered a ``backchannel_logout_uri`` gets a logout token,
and an unreachable client never holds up the sign-out."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet

from idp.config import PROJECT_ROOT
from idp.keys import jose
from idp.oidc import backchannel
from idp.ops.metrics import metrics
from tests.helpers import BASE_URL, ORIGIN, signed_in
from tests.oidc_helpers import (
    LogoutReceiver,
    RegisteredClient,
    id_token_claims,
    register,
    tokens_for,
)

EVENT = "http://schemas.openid.net/event/backchannel-logout"


QUICK_RETRIES = (0.05, 0.1)  # instead of 1, 4, 15 and 45 seconds


@pytest.fixture
def app(app: Flask) -> Flask:
    """The app, with a sender that tries again within a fraction of a second."""
    app.extensions[backchannel.KEY] = backchannel.make_sender(app, retry_delays=QUICK_RETRIES)
    return app


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    found = LogoutReceiver()
    yield found
    found.close()


def delivered(app: Flask) -> None:
    backchannel.sender_of(app).wait()


def verified(browser: FlaskClient, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = KeySet.import_key_set(browser.get("/.well-known/jwks.json").get_json())
    return jose.verify_signature(token, keys)


def signed_in_at(
    app: Flask, client: RegisteredClient, scope: str = "openid"
) -> tuple[FlaskClient, dict[str, Any]]:
    """A browser signed in here and at ``client``; the client's ID token claims."""
    browser = signed_in(app)
    tokens = tokens_for(browser, client, scope)
    return browser, id_token_claims(browser, tokens["id_token"])


def signed_out_of(
    app: Flask, receiver: LogoutReceiver
) -> tuple[RegisteredClient, FlaskClient, dict[str, Any]]:
    """Sign in here and at a client that listens at ``receiver``, sign out, and wait until the
    sender is done with the logout token (``receiver`` is closed then)."""
    try:
        client = register(app, "--backchannel-logout-uri", receiver.url)
        browser, claims = signed_in_at(app, client)
        browser.post("/api/auth/sign-out", headers=ORIGIN)
        delivered(app)
    finally:
        receiver.close()
    return client, browser, claims


def outcomes(app: Flask, outcome: str) -> float:
    value: float = metrics(app).backchannel_logouts.labels(outcome)._value.get()
    return value


def test_the_logout_token_claims_follow_section_2_4() -> None:
    now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    claims = backchannel.logout_token_claims(
        issuer="https://id.example", client_id="c1", subject="u1", session_id="s1", now=now, jti="j"
    )
    assert claims == {
        "iss": "https://id.example",
        "aud": "c1",
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 120,
        "jti": "j",
        "sub": "u1",
        "sid": "s1",
        "events": {EVENT: {}},
    }


def test_discovery_says_back_channel_logout_with_sessions_is_supported(app: Flask) -> None:
    document = app.test_client().get("/.well-known/openid-configuration").get_json()
    assert document["backchannel_logout_supported"] is True
    assert document["backchannel_logout_session_supported"] is True


def test_signing_out_sends_the_client_a_logout_token_it_can_verify(
    app: Flask, receiver: LogoutReceiver
) -> None:
    client = register(app, "--backchannel-logout-uri", receiver.url)
    browser, id_token = signed_in_at(app, client)

    assert browser.post("/api/auth/sign-out", headers=ORIGIN).status_code == 200
    delivered(app)

    (request,) = receiver.received
    assert request["path"] == "/backchannel-logout?rp=1"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    header, claims = verified(browser, request["form"]["logout_token"][0])
    assert header["typ"] == "logout+jwt"
    assert header["alg"] == "RS256"
    assert claims["iss"] == BASE_URL
    assert claims["aud"] == client.client_id
    assert (claims["sub"], claims["sid"]) == (id_token["sub"], id_token["sid"])
    assert claims["events"] == {EVENT: {}}
    assert claims["exp"] - claims["iat"] == 120
    assert claims["jti"]
    assert "nonce" not in claims
    assert outcomes(app, "delivered") == 1


def test_logout_at_the_provider_and_revoking_sessions_tell_the_client_too(
    app: Flask, receiver: LogoutReceiver
) -> None:
    client = register(app, "--backchannel-logout-uri", receiver.url)
    browser, first = signed_in_at(app, client)
    tokens = tokens_for(browser, client, "openid")
    browser.get("/oauth2/logout", query_string={"id_token_hint": tokens["id_token"]})
    delivered(app)
    assert [verified(browser, t)[1]["sid"] for t in receiver.tokens()] == [first["sid"]]

    again, second = signed_in_at(app, client)
    assert again.post("/api/auth/revoke-sessions", headers=ORIGIN).status_code == 200
    delivered(app)
    assert [verified(again, t)[1]["sid"] for t in receiver.tokens()[1:]] == [second["sid"]]


def test_only_the_sessions_that_end_are_announced_once_per_client(
    app: Flask, receiver: LogoutReceiver
) -> None:
    client = register(app, "--backchannel-logout-uri", receiver.url)
    kept, _ = signed_in_at(app, client)
    tokens_for(kept, client, "openid")  # a second grant from the same session: one notice
    ended, other = signed_in_at(app, client)  # the same user, another session

    answer = kept.post("/api/auth/revoke-other-sessions", headers=ORIGIN)
    assert answer.status_code == 200
    delivered(app)

    assert [verified(kept, t)[1]["sid"] for t in receiver.tokens()] == [other["sid"]]
    assert ended.get("/api/auth/get-session").get_json() is None


def test_a_ban_tells_every_client_of_every_session_offline_access_included(
    app: Flask, receiver: LogoutReceiver
) -> None:
    client = register(app, "--backchannel-logout-uri", receiver.url)
    browser, first = signed_in_at(app, client, "openid offline_access")
    _, second = signed_in_at(app, client)

    banned = app.test_cli_runner().invoke(args=["users", "ban", first["sub"]])
    assert banned.exit_code == 0, banned.output
    delivered(app)

    sids = sorted(verified(browser, t)[1]["sid"] for t in receiver.tokens())
    assert sids == sorted([first["sid"], second["sid"]])


def test_clients_without_a_uri_and_other_users_hear_nothing(
    app: Flask, receiver: LogoutReceiver
) -> None:
    silent = register(app)
    listening = register(app, "--backchannel-logout-uri", receiver.url)
    browser, _ = signed_in_at(app, silent)
    bystander, _ = signed_in_at(app, listening)
    bystander.post("/api/auth/sign-out", headers=ORIGIN)
    delivered(app)
    receiver.received.clear()

    assert browser.post("/api/auth/sign-out", headers=ORIGIN).status_code == 200
    delivered(app)

    assert receiver.received == []


def test_an_unreachable_or_slow_client_does_not_hold_up_the_sign_out(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    slow = LogoutReceiver(delay=2.0)
    try:
        unreachable = register(app, "--backchannel-logout-uri", "http://127.0.0.1:1/logout")
        waiting = register(app, "--backchannel-logout-uri", slow.url)
        browser, _ = signed_in_at(app, unreachable)
        tokens_for(browser, waiting, "openid")

        started = time.monotonic()
        answer = browser.post("/api/auth/sign-out", headers=ORIGIN)
        took = time.monotonic() - started
        delivered(app)
    finally:
        slow.close()

    assert answer.status_code == 200
    assert took < 1.5, f"the sign-out waited {took:.1f} s for the clients"
    assert len(slow.received) == 1
    assert outcomes(app, "unreachable") == 1
    failure = f"back-channel logout to client {unreachable.client_id} failed: ConnectionError"
    assert caplog.text.count(failure) == 1 + len(QUICK_RETRIES)
    given_up = f"client {unreachable.client_id}: given up after {1 + len(QUICK_RETRIES)} attempt(s)"
    assert given_up in caplog.text
    assert slow.tokens()[0] not in caplog.text


def test_a_refusing_client_is_counted_as_refused(app: Flask) -> None:
    refusing = LogoutReceiver(status=400)
    signed_out_of(app, refusing)
    assert len(refusing.received) == 1
    assert outcomes(app, "refused") == 1


def test_a_client_that_is_down_for_a_moment_gets_the_same_token_on_a_later_attempt(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Section 2.8 leaves retries to the provider: a client restarting for a deploy answers
    503, then cannot be reached; the token goes again until the client takes it."""
    caplog.set_level(logging.INFO, logger="idp.oidc.backchannel")
    restarting = LogoutReceiver(first=(503,))
    client, browser, claims = signed_out_of(app, restarting)

    tokens = restarting.tokens()
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]
    assert verified(browser, tokens[1])[1]["sid"] == claims["sid"]
    assert outcomes(app, "delivered") == 1
    assert outcomes(app, "unreachable") == 0
    assert f"client {client.client_id}: attempt 1 failed, again in 0.05 s" in caplog.text


@pytest.mark.parametrize(
    ("statuses", "attempts", "outcome"),
    [
        ([204], 1, "delivered"),
        ([429, 200], 2, "delivered"),
        ([408, 200], 2, "delivered"),
        ([500, 502, 200], 3, "delivered"),
        (
            [400],
            1,
            "refused",
        ),  # the client says the token is not valid: sending it again won't help
        ([401], 1, "refused"),
        ([302], 1, "refused"),  # a redirect is not followed, nor is it an answer
        ([503, 503, 503, 503], 3, "unreachable"),  # the first attempt and each retry
    ],
)
def test_what_each_answer_comes_to(statuses: list[int], attempts: int, outcome: str) -> None:
    posted: list[str] = []
    recorded: list[str] = []

    def post(uri: str, token: str) -> int:
        posted.append(token)
        return statuses[len(posted) - 1]

    sender = backchannel.Sender(post, recorded.append, retry_delays=QUICK_RETRIES)
    sender.send(backchannel.Delivery("c1", "https://rp.example/bc", "tok"))
    sender.wait()
    assert posted == ["tok"] * attempts
    assert recorded == [outcome]


def test_no_token_is_sent_once_it_may_have_expired() -> None:
    """A retry that would arrive after the token's exp is not made, and a token that waited too
    long behind a slow client is not sent at all."""
    posted: list[str] = []
    recorded: list[str] = []

    def post(uri: str, token: str) -> int:
        posted.append(token)
        time.sleep(0.3)
        return 503

    lifetime = 0.2  # each token may be sent for this long after it was queued
    sender = backchannel.Sender(
        post,
        recorded.append,
        retry_delays=(0.05,),
        token_ttl=backchannel.POST_TIMEOUT + lifetime,
    )
    sender.send(backchannel.Delivery("c1", "https://rp.example/bc", "first"))
    sender.send(backchannel.Delivery("c2", "https://rp.example/bc", "second"))
    sender.wait()
    assert posted == ["first"]  # its retry would start after 0.35 s; "second" waited as long
    assert sorted(recorded) == ["expired", "unreachable"]


def test_a_new_delivery_does_not_wait_for_another_clients_retries() -> None:
    posted: list[tuple[str, float]] = []
    started = time.monotonic()

    def post(uri: str, token: str) -> int:
        posted.append((token, time.monotonic() - started))
        return 503 if token == "down" else 200

    sender = backchannel.Sender(post, lambda outcome: None, retry_delays=(0.5,))
    sender.send(backchannel.Delivery("c1", "https://down.example/bc", "down"))
    time.sleep(0.1)
    sender.send(backchannel.Delivery("c2", "https://up.example/bc", "up"))
    sender.wait()
    assert [token for token, _ in posted] == ["down", "up", "down"]
    assert posted[1][1] < 0.4, "the second client waited for the first one's retry"


@pytest.mark.parametrize(
    "uri",
    [
        "http://rp.example/logout",
        "https://rp.example/logout#frag",
        "not a url",
        "ftp://rp.example/",
    ],
)
def test_a_back_channel_logout_uri_must_be_https_or_loopback_without_fragment(
    app: Flask, uri: str
) -> None:
    command = ["clients", "create", "--name", "RP", "--redirect-uri", "https://rp.example/cb"]
    refused = app.test_cli_runner().invoke(args=[*command, "--backchannel-logout-uri", uri])
    assert refused.exit_code != 0
    assert "back-channel logout URI" in refused.output


def test_the_uri_is_shown_changed_and_removed_with_flask_clients(app: Flask) -> None:
    client = register(app, "--backchannel-logout-uri", "https://rp.example/bc")
    runner = app.test_cli_runner()

    def shown() -> Any:
        result = runner.invoke(args=["clients", "show", client.client_id, "--json"])
        return json.loads(result.output)["backchannel_logout_uri"]

    assert shown() == "https://rp.example/bc"
    runner.invoke(
        args=[
            "clients",
            "update",
            client.client_id,
            "--backchannel-logout-uri",
            "https://rp.example/v2",
        ]
    )
    assert shown() == "https://rp.example/v2"
    runner.invoke(args=["clients", "update", client.client_id, "--backchannel-logout-uri", ""])
    assert shown() is None


def test_a_process_that_exits_sends_what_it_queued_first(tmp_path: Path) -> None:
    """A flask command (a ban) queues its logout tokens and exits at once: the queue is drained
    at exit, within a bound, rather than dropped with the sender thread."""
    sent = tmp_path / "sent"
    probe = (
        "import pathlib, time\n"
        "from idp.oidc.backchannel import Delivery, Sender\n"
        "def post(uri, token):\n"
        "    time.sleep(1.0)\n"
        f"    pathlib.Path({str(sent)!r}).write_text(token)\n"
        "    return 200\n"
        "Sender(post, lambda outcome: None).send(Delivery('c1', 'https://rp.example/bc', 'tok'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert sent.read_text() == "tok"
