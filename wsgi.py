"""The WSGI entry point: ``gunicorn wsgi:app``."""

import sys

from idp import create_app
from idp.config import ConfigError
from idp.ops.logs import configure_logging

try:
    app = create_app()
    configure_logging(app.extensions["idp"].settings.log_level)
except ConfigError as error:
    # A refused configuration is an operator's mistake, not a crash: say why, in one line.
    print(f"idp: refusing to start: {error}", file=sys.stderr)
    sys.exit(3)  # gunicorn's boot-error status: the master stops instead of respawning workers
