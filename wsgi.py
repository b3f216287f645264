"""The WSGI entry point: ``gunicorn wsgi:app``."""

import sys

from idp import create_app
from idp.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # A refused configuration is an operator's mistake, not a crash: say why, in one line.
    sys.exit(f"idp: refusing to start: {error}")
