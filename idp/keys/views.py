"""Serving the JWKS: one document per key-ring reload, with caching headers and ETag."""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.http import parse_etags

from idp.answers import Answer
from idp.keys.ring import Snapshot
from idp.runtime import get_runtime

wellknown = Blueprint("wellknown", __name__)
JWKS_PATHS = ("/.well-known/jwks.json", "/api/auth/jwks")


def jwks_answer(snapshot: Snapshot, if_none_match: str | None, max_age: int) -> Answer:
    headers = [
        # Shorter than the time a next key is published before it signs (min_publish_time),
        # so a verifier that honours it always holds a key before it sees a token signed by it.
        ("Cache-Control", f"public, max-age={max_age}"),
        ("ETag", f'"{snapshot.etag}"'),
        # Public data: any origin may read it, without credentials (embeds verify in browsers).
        ("Access-Control-Allow-Origin", "*"),
    ]
    if parse_etags(if_none_match).contains_weak(snapshot.etag):  # a proxy may have weakened it
        return Answer(304, headers)
    body = snapshot.jwks_body
    return Answer(
        200,
        [
            ("Content-Type", "application/jwk-set+json"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
        body,
    )


def jwks_response() -> Response:
    runtime = get_runtime()
    ring = runtime.keys
    snapshot = ring.snapshot()
    if not snapshot.published_kids:
        ring.signer()  # a fresh install publishes its first key before anyone asks for a token
        snapshot = ring.snapshot()
    answer = jwks_answer(
        snapshot, request.headers.get("If-None-Match"), runtime.settings.jwks_max_age
    )
    return answer.response()


@wellknown.get(JWKS_PATHS[0])
def jwks() -> Response:
    return jwks_response()
