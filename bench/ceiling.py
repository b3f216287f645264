"""The JWKS scenario's ceiling: gunicorn answering idp's own JWKS bytes with no app around them.

``bench/run`` fetches idp's JWKS answer (status, headers, body) before the load, writes it to the
JSON file named by ``BENCH_CEILING_ANSWER``, and serves it with this WSGI app under the same
gunicorn command and settings as idp. Whatever this app reaches is what gunicorn itself allows on
this machine: the part of the JWKS ratio that no change inside idp can move.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_answer = json.loads(Path(os.environ["BENCH_CEILING_ANSWER"]).read_text())
STATUS: str = _answer["status"]
HEADERS: list[tuple[str, str]] = [(name, value) for name, value in _answer["headers"]]
BODY: bytes = base64.b64decode(_answer["body"])


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response(STATUS, HEADERS)
    return [BODY]
