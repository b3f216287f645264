"""Back-channel logout through gunicorn: the sender thread runs in the forked worker that ended
the session, and the client gets a token it can verify with the JWKS."""

from __future__ import annotations

import json
import time

import pytest
import requests
from joserfc.jwk import KeySet

from idp.keys import jose
from tests.fakes import FakeGoogle
from tests.helpers import query_of
from tests.live import LiveServer
from tests.oidc_helpers import REDIRECT_URI, AuthRequest, LogoutReceiver, RegisteredClient

pytestmark = pytest.mark.e2e


def _register(server: LiveServer, receiver: LogoutReceiver) -> RegisteredClient:
    created = server.flask(
        "clients",
        "create",
        "--name",
        "RP with back-channel logout",
        "--first-party",
        "--redirect-uri",
        REDIRECT_URI,
        "--backchannel-logout-uri",
        receiver.url,
        "--json",
    )
    assert created.returncode == 0, created.stderr + created.stdout
    data = json.loads(created.stdout)
    return RegisteredClient(data["client_id"], data["client_secret"])


def _signed_in(server: LiveServer) -> requests.Session:
    browser = requests.Session()
    browser.headers["Origin"] = server.url
    started = browser.post(f"{server.url}/api/auth/sign-in/social", json={"provider": "google"})
    at_provider = browser.get(started.json()["url"], allow_redirects=False)
    back = browser.get(at_provider.headers["Location"], allow_redirects=False)
    assert back.status_code == 302, back.text
    return browser


def _id_token(server: LiveServer, browser: requests.Session, client: RegisteredClient) -> str:
    request = AuthRequest(client, scope="openid")
    answer = browser.get(f"{server.url}{request.url()}", allow_redirects=False)
    code = query_of(answer.headers["Location"])["code"]
    tokens = requests.post(
        f"{server.url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": request.verifier or "",
        },
        auth=(client.client_id, client.client_secret or ""),
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"])


def test_a_sign_out_through_gunicorn_reaches_the_client(
    live_server: LiveServer, live_google: FakeGoogle
) -> None:
    receiver = LogoutReceiver()
    try:
        client = _register(live_server, receiver)
        browser = _signed_in(live_server)
        id_token = _id_token(live_server, browser, client)

        out = browser.post(f"{live_server.url}/api/auth/sign-out", json={})
        assert out.json() == {"success": True}
        deadline = time.monotonic() + 10
        while not receiver.received:
            assert time.monotonic() < deadline, "no logout token within 10 s"
            time.sleep(0.05)
    finally:
        receiver.close()

    keys = KeySet.import_key_set(requests.get(f"{live_server.url}/.well-known/jwks.json").json())
    _, claims = jose.verify_signature(receiver.tokens()[0], keys)
    _, id_claims = jose.verify_signature(id_token, keys)
    assert claims["aud"] == client.client_id
    assert (claims["sub"], claims["sid"]) == (id_claims["sub"], id_claims["sid"])
    deadline = time.monotonic() + 5
    counted = 'idp_backchannel_logouts_total{outcome="delivered"} 1.0'
    while counted not in requests.get(f"{live_server.url}/metrics", timeout=10).text:
        assert time.monotonic() < deadline, "the delivery was not counted"
        time.sleep(0.1)


def test_a_ban_from_the_command_line_is_sent_before_the_command_exits(
    live_server: LiveServer, live_google: FakeGoogle
) -> None:
    receiver = LogoutReceiver()
    user_id = ""
    try:
        client = _register(live_server, receiver)
        browser = _signed_in(live_server)
        _id_token(live_server, browser, client)
        user_id = browser.get(f"{live_server.url}/api/auth/get-session").json()["user"]["id"]

        banned = live_server.flask("users", "ban", user_id)

        assert banned.returncode == 0, banned.stderr + banned.stdout
        assert len(receiver.received) == 1  # no waiting: the command drained its queue
    finally:
        receiver.close()
        if user_id:
            live_server.flask("users", "unban", user_id)
