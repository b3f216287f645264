"""Better Auth's JWT plugin: a session JWT for embeds and services, and our JWKS."""

from __future__ import annotations

from flask import Response, jsonify

from idp.api.blueprint import bp
from idp.api.serializers import session_jwt_claims
from idp.keys import jose
from idp.keys.views import jwks_response
from idp.ops.metrics import metrics
from idp.runtime import get_runtime
from idp.sessions import current as sessions


@bp.get("/token")
def token() -> Response:
    current = sessions.require_session()
    runtime = get_runtime()
    settings = runtime.settings
    alg, key = runtime.keys.signer()
    claims = session_jwt_claims(
        current.user,
        current.session,
        current.presentation,
        issuer=settings.base_url,
        audience=settings.jwt_audience,
        now=runtime.now(),
        ttl=settings.jwt_ttl,
    )
    response = jsonify({"token": jose.sign(claims, key=key, alg=alg)})
    metrics().tokens.labels("session_jwt").inc()
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jwks")
def jwks() -> Response:
    return jwks_response()
