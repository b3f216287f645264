"""``/api/auth/*``: the Better Auth-compatible surface. Views are thin: parse, call, render."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from idp.api import account, jwt, pages, session, signin  # noqa: F401  (routes register on import)
from idp.api.blueprint import bp
from idp.runtime import get_runtime


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    settings = get_runtime(app).settings
    # Credentials are allowed for the configured origins only, never for "*".
    CORS(
        app,
        resources={r"/api/auth/*": {"origins": sorted(settings.all_trusted_origins)}},
        supports_credentials=True,
        allow_headers=["Content-Type"],
        methods=["GET", "POST", "OPTIONS"],
        max_age=600,
    )
