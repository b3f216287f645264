"""idp: the identity backend of the chat.

:func:`create_app` is the only place where anything is wired.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request
from flask_cors import CORS
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from idp import api, cli, errors, fastlane
from idp.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from idp.connectors.registry import build_registry
from idp.keys.crypto import KeyEncryption
from idp.keys.ring import KeyRing
from idp.keys.views import wellknown
from idp.models import db, schema
from idp.oidc import wiring as oidc
from idp.ops import limits, metrics
from idp.ops import logs as request_logs
from idp.ops.health import health
from idp.runtime import (
    EXTENSION_KEY,
    Clock,
    Randomness,
    Runtime,
    SystemRandomness,
    get_runtime,
    system_clock,
)
from idp.security.headers import security_headers
from idp.sessions import current as current_session
from idp.sessions.cookies import CookieJar, NoFlaskSession
from idp.signin.state import pending_sign_ins


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    random: Randomness | None = None,
) -> Flask:
    settings = settings or load_settings(os.environ)
    clock = clock or system_clock
    app = Flask(__name__, instance_path=settings.instance_path, static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = NoFlaskSession()
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )

    db.init_app(app)
    schema.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    app.extensions[EXTENSION_KEY] = Runtime(
        settings=settings,
        clock=clock,
        random=random or SystemRandomness(),
        connectors=build_registry(settings, clock),
        cookies=CookieJar.from_settings(settings),
        keys=KeyRing(
            encryption=KeyEncryption(
                settings.key_encryption_key, settings.previous_key_encryption_keys
            ),
            clock=clock,
            refresh_interval=settings.keys_refresh_interval,
            default_alg=settings.signing_alg,
        ),
        pending=pending_sign_ins(settings.redis_url, timeout=REDIS_TIMEOUT),
    )
    with app.app_context():
        try:
            get_runtime(app).keys.check_decryptable()
        except ConfigError:
            db.engine.dispose()  # refused: leave no pooled connection behind
            raise
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count
        )

    errors.register_error_handlers(app)
    request_logs.quiet_libraries()
    current_session.init_app(app)
    api.init_app(app)
    oidc.init_app(app)
    app.register_blueprint(wellknown)
    app.register_blueprint(health)
    metrics.init_app(app)
    request_logs.init_app(app)
    limits.init_app(app, settings)
    _cors(app, settings)
    cli.init_app(app)
    app.after_request(_security_headers)
    with app.app_context():
        fastlane.init_app(app, db.engine)
    return app


REDIS_TIMEOUT = 2.0  # seconds: a Redis that does not answer must fail a sign-in fast (503)


def _cors(app: Flask, settings: Settings) -> None:
    """Who may call us from a browser on another origin.

    ``/api/auth`` answers credentialed requests from the trusted origins only; the OpenID
    endpoints that embeds call from their own origins (token, userinfo, revocation, discovery)
    answer any origin, never with credentials: they authenticate by tokens, not cookies.
    """
    CORS(
        app,
        resources={
            r"/api/auth/*": {
                "origins": sorted(settings.all_trusted_origins),
                "supports_credentials": True,
                "allow_headers": ["Content-Type"],
            },
            r"/oauth2/(token|userinfo|revoke)": {
                "origins": "*",
                "supports_credentials": False,
                "allow_headers": ["Content-Type", "Authorization"],
            },
            r"/.well-known/*": {"origins": "*", "supports_credentials": False},
        },
        methods=["GET", "POST", "OPTIONS"],
        max_age=600,
        # Without an Origin there is no CORS request to answer; flask-cors would otherwise list
        # every trusted origin in Access-Control-Allow-Origin headers for anyone to read.
        always_send=False,
    )


def _engine_options(settings: Settings) -> dict[str, object]:
    if settings.database_url.startswith("sqlite"):
        # Wait for a writer instead of failing at once when several workers share the file.
        return {"connect_args": {"timeout": 15}}
    return {
        # A database that does not answer must fail fast (503), not hang a worker.
        "connect_args": {"connect_timeout": 5},
        "pool_pre_ping": True,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_recycle": 1800,
    }


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _security_headers(response: Response) -> Response:
    for name, value in security_headers(request.endpoint):
        response.headers.setdefault(name, value)
    return response
