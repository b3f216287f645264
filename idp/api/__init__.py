"""``/api/auth/*``: the Better Auth-compatible surface. Views are thin: parse, call, render."""

from __future__ import annotations

from flask import Flask

from idp.api import account, jwt, openapi, pages, session, signin  # noqa: F401  (routes register on import)
from idp.api.blueprint import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
