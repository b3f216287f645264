"""``flask`` command groups. Commands are thin click functions over plain functions."""

from __future__ import annotations

from flask import Flask

from idp.cli.audit import audit
from idp.cli.clients import clients
from idp.cli.community import badges, users
from idp.cli.data import data
from idp.cli.keys import keys


def init_app(app: Flask) -> None:
    app.cli.add_command(keys)
    app.cli.add_command(clients)
    app.cli.add_command(badges)
    app.cli.add_command(users)
    app.cli.add_command(audit)
    app.cli.add_command(data)
