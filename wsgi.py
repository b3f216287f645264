"""The WSGI entry point: ``gunicorn wsgi:app``."""

from idp import create_app

app = create_app()
