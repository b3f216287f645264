"""The ``/api/auth`` blueprint and the guards every request to it passes."""

from __future__ import annotations

from flask import Blueprint, request

from idp.errors import InvalidOriginError, MissingOriginError
from idp.runtime import get_runtime
from idp.security.origins import origin_of
from idp.sessions.cookies import SESSION_COOKIE

bp = Blueprint("api", __name__, url_prefix="/api/auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Provider callbacks arrive by cross-site POST (response_mode=form_post); state protects them.
ORIGIN_CHECK_EXEMPT = ("api.callback",)


def request_origin(origin: str | None, referer: str | None) -> str | None:
    """The origin a browser says a request came from: Origin, else the Referer's origin."""
    if origin and origin != "null":
        return origin_of(origin) or origin
    return origin_of(referer) if referer else None


@bp.before_request
def check_origin() -> None:
    """CSRF defence for state-changing requests (Better Auth's origin check, made stricter).

    A request that states an origin must state a trusted one; a request that carries our
    session cookie must state one at all.
    """
    if request.method in SAFE_METHODS or request.endpoint in ORIGIN_CHECK_EXEMPT:
        return
    runtime = get_runtime()
    origin = request_origin(request.headers.get("Origin"), request.headers.get("Referer"))
    if origin is not None:
        if origin not in runtime.settings.all_trusted_origins:
            raise InvalidOriginError()
        return
    if runtime.cookies.name(SESSION_COOKIE) in request.cookies:
        raise MissingOriginError()
