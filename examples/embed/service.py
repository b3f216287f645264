#!/usr/bin/env python3
"""A service that learns who the user is from idp's session JWT, verified offline.

The browser gets the token from idp's ``GET /api/auth/token`` (with its session cookie) and sends
it here as ``Authorization: Bearer <token>``. The service checks it against idp's JWKS, which it
caches for as long as the JWKS's ``Cache-Control: max-age`` allows; an unknown ``kid`` refetches it
at most once per 30 s (see docs/services.md). It never calls idp per request.

    python examples/embed/service.py --issuer https://chat.example \\
        [--audience https://chat.example] [--jwks-url https://idp.internal/.well-known/jwks.json] \\
        [--allow-origin https://chat.example] [--host 127.0.0.1] [--port 8700]

``GET /whoami`` answers ``200 {"sub", "name", "email", "sid", "exp"}``, ``401`` for a missing or
invalid token, and ``503`` when the key set cannot be fetched. Browsers on an ``--allow-origin``
may call it (CORS, with the ``Authorization`` header). The first line on stdout is the address it
listens on (``--port 0`` picks a free port). Needs only joserfc: ``pip install "joserfc>=1.8"``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Collection, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import GuestProtocol, KeySet

ALGORITHMS = ["RS256", "ES256", "EdDSA"]  # what idp signs with; never "none", never HS*
LEEWAY = 30  # seconds of clock skew
# idp names its Ed25519 signatures "EdDSA", which RFC 9864 deprecates; joserfc warns on each use.
warnings.filterwarnings("ignore", "EdDSA is deprecated", SecurityWarning)


class RemoteKeySet:
    """idp's JWKS, cached as long as its ``Cache-Control: max-age`` allows; a token whose ``kid``
    is unknown refetches it at most once per ``cooldown`` seconds."""

    def __init__(self, url: str, *, cooldown: float = 30, timeout: float = 5) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"the JWKS URL must be http(s): {url}")
        self.url, self.cooldown, self.timeout = url, cooldown, timeout
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._max_age = 0
        self.fetches = 0

    def _fetch(self) -> KeySet:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310 (http(s), checked above)
            document = json.load(response)
            cache_control = response.headers.get("Cache-Control", "")
        found = re.search(r"max-age=(\d+)", cache_control)
        no_cache = re.search(r"no-store|no-cache", cache_control) is not None
        self._keys = KeySet.import_key_set(document)
        self._fetched_at = time.monotonic()
        self._max_age = int(found.group(1)) if found and not no_cache else 0
        self.fetches += 1
        return self._keys

    def __call__(self, token: GuestProtocol) -> KeySet:
        """joserfc's key resolver: the key set that should hold the token's ``kid``."""
        kid = token.headers().get("kid")
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if self._keys is None or age >= self._max_age:
                return self._fetch()
            if all(key.kid != kid for key in self._keys) and age >= self.cooldown:
                return self._fetch()
            return self._keys


class Verifier:
    """Checks a session JWT: signature, ``alg``, ``iss``, ``aud``, ``exp``, ``nbf``, ``iat``,
    ``sub``."""

    def __init__(self, *, issuer: str, audience: str, keys: RemoteKeySet) -> None:
        self.keys = keys
        self.rules = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )

    def __call__(self, token: str) -> dict[str, Any]:
        """The claims of a valid token. Raises JoseError (or ValueError) for a bad token, and
        OSError when the key set cannot be fetched."""
        decoded = jwt.decode(token, self.keys, algorithms=ALGORITHMS)
        self.rules.validate(decoded.claims)
        return dict(decoded.claims)


def make_handler(
    verify: Callable[[str], dict[str, Any]], allowed_origins: Collection[str]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "whoami"

        def _send(self, status: int, body: Mapping[str, Any] | None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            origin = self.headers.get("Origin")
            if origin and origin in allowed_origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Headers", "Authorization")
                self.send_header("Access-Control-Allow-Methods", "GET")
                self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Vary", "Origin")
            self.send_header("Cache-Control", "no-store")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self) -> None:
            self._send(204, None)

        def do_GET(self) -> None:
            if urlsplit(self.path).path != "/whoami":
                self._send(404, {"error": "not_found"})
                return
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                self._send(401, {"error": "invalid_token", "detail": "no bearer token"})
                return
            try:
                claims = verify(token.strip())
            except OSError as error:
                self._send(503, {"error": "jwks_unavailable", "detail": str(error)})
                return
            except (JoseError, ValueError) as error:
                self._send(401, {"error": "invalid_token", "detail": type(error).__name__})
                return
            fields = ("sub", "name", "email", "sid", "exp")
            self._send(200, {name: claims.get(name) for name in fields})

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--issuer", required=True, help="IDP_BASE_URL: the tokens' iss")
    parser.add_argument("--audience", help="IDP_JWT_AUDIENCE (default: the issuer)")
    parser.add_argument("--jwks-url", help="default: <issuer>/.well-known/jwks.json")
    parser.add_argument("--allow-origin", action="append", default=[], help="CORS (repeat)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700, help="0 picks a free port")
    args = parser.parse_args(argv)
    issuer = args.issuer.rstrip("/")
    keys = RemoteKeySet(args.jwks_url or f"{issuer}/.well-known/jwks.json")
    verify = Verifier(issuer=issuer, audience=args.audience or issuer, keys=keys)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(verify, args.allow_origin))
    host, port = server.server_address[:2]
    print(f"listening on http://{host!s}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
