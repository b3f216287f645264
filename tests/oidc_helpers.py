"""A relying party for the protocol tests: register clients, authorize, redeem, refresh."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from idp.keys import jose
from tests.helpers import BASE_URL, query_of

REDIRECT_URI = "https://rp.example/callback"
POST_LOGOUT_URI = "https://rp.example/signed-out"


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str = REDIRECT_URI


def register(
    app: Flask, *args: str, public: bool = False, first_party: bool = True
) -> RegisteredClient:
    command = [
        "clients",
        "create",
        "--name",
        "Test RP",
        "--redirect-uri",
        REDIRECT_URI,
        "--post-logout-redirect-uri",
        POST_LOGOUT_URI,
        "--json",
        *args,
    ]
    if public:
        command.append("--public")
    if first_party:
        command.append("--first-party")
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    return RegisteredClient(data["client_id"], data["client_secret"])


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


@dataclass
class AuthRequest:
    client: RegisteredClient
    scope: str = "openid profile email"
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    verifier: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": self.client.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
        }
        if self.verifier is None:
            self.verifier, challenge = pkce()
        else:
            challenge = pkce_challenge(self.verifier)
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        params |= self.extra
        return {k: v for k, v in params.items() if v != ""}

    def url(self) -> str:
        return f"/oauth2/authorize?{urlencode(self.params())}"


def pkce_challenge(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def authorize(browser: FlaskClient, request: AuthRequest) -> TestResponse:
    return browser.get(request.url())


def code_from(response: TestResponse, request: AuthRequest) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(request.client.redirect_uri + "?"), location
    params = query_of(location)
    assert params.get("state") == request.state
    assert params.get("iss") == BASE_URL
    assert "code" in params, params
    return params["code"]


def basic_auth(client: RegisteredClient) -> dict[str, str]:
    """The client's credentials as an HTTP Basic ``Authorization`` header."""
    raw = f"{client.client_id}:{client.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def token_request(
    browser: FlaskClient, client: RegisteredClient, *, basic: bool = True, **form: str
) -> TestResponse:
    headers = {}
    if client.client_secret and basic:
        headers = basic_auth(client)
    else:
        form.setdefault("client_id", client.client_id)
        if client.client_secret:
            form.setdefault("client_secret", client.client_secret)
    return browser.post("/oauth2/token", data=form, headers=headers)


def redeem(browser: FlaskClient, request: AuthRequest, code: str) -> TestResponse:
    assert request.verifier is not None
    return token_request(
        browser,
        request.client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=request.client.redirect_uri,
        code_verifier=request.verifier,
    )


def id_token_claims(browser: FlaskClient, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(browser.get("/.well-known/jwks.json").get_json())
    header, claims = jose.verify_signature(id_token, keys)
    assert header["alg"] == "RS256"
    return claims


def tokens_for(
    browser: FlaskClient, client: RegisteredClient, scope: str = "openid profile email"
) -> dict[str, Any]:
    """One authorization code flow with PKCE as the signed-in ``browser``: the token response."""
    request = AuthRequest(client, scope=scope)
    answer = redeem(browser, request, code_from(authorize(browser, request), request))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


class LogoutReceiver:
    """A client's back-channel logout endpoint on loopback: records what it is sent."""

    def __init__(
        self, status: int = 200, delay: float = 0.0, *, first: tuple[int, ...] = ()
    ) -> None:
        """Answers ``status``, after ``first``: the statuses of the first requests, in order."""
        self.received: list[dict[str, Any]] = []
        receiver = self
        answers = list(first)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                time.sleep(delay)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                receiver.received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "form": parse_qs(body),
                    }
                )
                self.send_response(answers.pop(0) if answers else status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout?rp=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def tokens(self) -> list[str]:
        return [r["form"]["logout_token"][0] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
