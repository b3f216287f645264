"""``GET /api/auth/openapi.json``: the OpenAPI 3.1 description of every endpoint.

The document is ``idp/openapi.json``, shipped with the package and served as it is; the tests
check it against the routes and against real responses.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Response

from idp.api.blueprint import bp

CACHE_CONTROL = "public, max-age=300"


@cache
def document() -> bytes:
    """The document's bytes, read once per process."""
    return files("idp").joinpath("openapi.json").read_bytes()


@bp.get("/openapi.json")
def openapi_document() -> Response:
    response = Response(document(), mimetype="application/json")
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
