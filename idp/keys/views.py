"""Serving the JWKS: one document per key-ring reload, with caching headers and ETag."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.runtime import get_runtime

wellknown = Blueprint("wellknown", __name__)


def jwks_response() -> Response:
    runtime = get_runtime()
    ring = runtime.keys
    snapshot = ring.snapshot()
    if not snapshot.published_kids:
        ring.signer()  # a fresh install publishes its first key before anyone asks for a token
        snapshot = ring.snapshot()
    headers = {
        # Shorter than the time a next key is published before it signs (min_publish_time),
        # so a verifier that honours it always holds a key before it sees a token signed by it.
        "Cache-Control": f"public, max-age={runtime.settings.jwks_max_age}",
        "ETag": f'"{snapshot.etag}"',
        # Public data: any origin may read it, without credentials (embeds verify in browsers).
        "Access-Control-Allow-Origin": "*",
    }
    if request.if_none_match.contains_weak(snapshot.etag):  # a proxy may have weakened it
        return Response(status=304, headers=headers)
    return Response(snapshot.jwks_body, mimetype="application/jwk-set+json", headers=headers)


@wellknown.get("/.well-known/jwks.json")
def jwks() -> Response:
    return jwks_response()
