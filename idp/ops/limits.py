"""Rate limits (Flask-Limiter): Redis when configured, else our own database.

Counters must be shared by every worker on every host, so the in-memory store is never used.
Without ``IDP_REDIS_URL`` the counters live in the ``rate_limits`` table (one upsert per
limited request); with it, in Redis. If the store fails, requests are let through and the
failure is logged (availability over limiting), which is what "Redis down" degrades to.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from flask import Flask, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import Storage
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from idp.config import Settings
from idp.errors import ApiError, failure_response
from idp.models import RateLimit, db
from idp.models.base import rows_affected
from idp.security.text import storable

log = logging.getLogger(__name__)
KEY = "idp.limiter"
PURGE_EVERY = 1000


class SQLStorage(Storage):
    """A ``limits`` storage over our database (fixed window only)."""

    STORAGE_SCHEME = ["idp-sql"]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any
    ) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._calls = itertools.count()

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        table = RateLimit.__table__
        insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        fresh = "CASE WHEN rate_limits.expires_at <= :now THEN"
        statement = (
            insert(table)
            .values(key=key, count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": text(
                        f"{fresh} :amount ELSE rate_limits.count + :amount END"
                    ).bindparams(now=now, amount=amount),
                    "expires_at": text(
                        f"{fresh} :fresh ELSE rate_limits.expires_at END"
                    ).bindparams(now=now, fresh=now + expiry),
                },
            )
            .returning(table.c.count)
        )
        expired = table.c.expires_at <= now
        with db.engine.begin() as connection:
            count = int(connection.execute(statement).scalar_one())
            if next(self._calls) % PURGE_EVERY == 0:
                connection.execute(delete(table).where(expired))
        return count

    def get(self, key: str) -> int:
        with db.engine.connect() as connection:
            value = connection.execute(
                select(RateLimit.count).where(
                    RateLimit.key == key, RateLimit.expires_at > time.time()
                )
            ).scalar()
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        with db.engine.connect() as connection:
            value = connection.execute(
                select(RateLimit.expires_at).where(RateLimit.key == key)
            ).scalar()
        return float(value) if value is not None else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as connection:
            return int(getattr(connection.execute(delete(RateLimit.__table__)), "rowcount", 0))

    def clear(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(delete(RateLimit.__table__).where(RateLimit.key == key))


def prune(now: float) -> int:
    """Delete expired counters of the database store (each worker also does so now and then)."""
    with db.engine.begin() as connection:
        table = RateLimit.__table__
        return rows_affected(connection.execute(delete(table).where(table.c.expires_at <= now)))


class TooManyRequestsError(ApiError):
    status = 429
    code = "TOO_MANY_REQUESTS"
    message = "Too many requests. Please try again later."
    oauth_error = "temporarily_unavailable"


def client_ip() -> str:
    return request.remote_addr or "unknown"


def client_id() -> str:
    """The OAuth client a request claims to be (Basic auth, form, or the subject of its
    ``private_key_jwt`` assertion) and the address it comes from: keyed by both, so that nobody
    can use up a client's allowance by knowing its id."""
    header = request.headers.get("Authorization", "")
    presented = request.values.get("client_id", "")  # Authlib reads it from the query too
    if header[:6].lower() == "basic ":  # the scheme, without regard to case (RFC 9110 11.1)
        try:
            presented = base64.b64decode(header[6:].strip(), validate=True).decode()
            presented = presented.split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            presented = ""
    elif (
        not presented and not header and request.form.get("client_assertion_type") == ASSERTION_TYPE
    ):
        presented = claimed_subject(request.form.get("client_assertion", ""))
    return f"client:{presented[:64]}:{client_ip()}"


def claimed_subject(assertion: str) -> str:
    """The ``sub`` a JWT says it has, unverified (a rate-limit key only: the assertion is
    checked later, by the token endpoint); "" for anything that is not such a JWT."""
    parts = assertion.split(".")
    if len(parts) != 3 or len(parts[1]) > 4096:
        return ""
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if storable(subject) else ""  # JSON can spell what no store can key on


# endpoint -> (settings attribute holding the limit, key function)
RULES: dict[str, tuple[str, Callable[[], str]]] = {
    "api.sign_in_social": ("rate_limit_sign_in", client_ip),
    "api.link_social": ("rate_limit_sign_in", client_ip),
    "oidc.chooser_submit": ("rate_limit_sign_in", client_ip),
    "api.callback": ("rate_limit_callback", client_ip),
    "oidc.authorization_endpoint": ("rate_limit_callback", client_ip),
    "oidc.token_endpoint": ("rate_limit_token", client_id),
    "oidc.revocation_endpoint": ("rate_limit_token", client_id),
    "oidc.introspection_endpoint": ("rate_limit_token", client_id),
    "api.update_user": ("rate_limit_account", client_ip),
    "api.unlink_account": ("rate_limit_account", client_ip),
    "api.revoke_session": ("rate_limit_account", client_ip),
    "api.revoke_sessions": ("rate_limit_account", client_ip),
    "api.revoke_other_sessions": ("rate_limit_account", client_ip),
}


def init_app(app: Flask, settings: Settings) -> None:
    """Limit the sensitive endpoints (call after every blueprint is registered)."""
    limiter = Limiter(
        key_func=client_ip,
        app=app,
        storage_uri=settings.redis_url or "idp-sql://",
        strategy="fixed-window",
        headers_enabled=False,  # Retry-After belongs on the 429 only, never on a redirect
        swallow_errors=True,  # a broken counter store must not take sign-in down with it
        enabled=settings.rate_limits,
    )
    app.extensions[KEY] = limiter
    for endpoint, (attribute, key) in RULES.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            limit = str(getattr(settings, attribute)).replace(";", "; ")
            app.view_functions[endpoint] = limiter.limit(limit, key_func=key)(view)  # type: ignore[assignment]

    @app.errorhandler(RateLimitExceeded)
    def too_many(error: RateLimitExceeded) -> Any:
        response = failure_response(TooManyRequestsError())
        current = limiter.current_limit
        retry = int(current.reset_at - time.time()) + 1 if current is not None else 60
        response.headers["Retry-After"] = str(max(1, retry))
        return response
