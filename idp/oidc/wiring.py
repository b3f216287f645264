"""Wires the OpenID provider into an app (called by create_app)."""

from __future__ import annotations

from flask import Flask

from idp.oidc import backchannel
from idp.oidc.server import create_server
from idp.oidc.views import SERVER_KEY, oidc


def init_app(app: Flask) -> None:
    app.extensions[SERVER_KEY] = create_server(app)
    app.register_blueprint(oidc)
    backchannel.init_app(app)
