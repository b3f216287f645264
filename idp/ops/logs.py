"""Structured JSON logs with a request id on every line; never a token, secret or cookie.

The request id comes from a trusted ``X-Request-ID`` (when it looks like one) or is made here,
and is echoed in the response so a user's report can be found in the logs.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import time
from typing import Any

from flask import Flask, Response, g, has_request_context, request

KEY = "idp.request_ids"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Query strings carry codes and state; headers and bodies carry tokens: none of it is logged.
_REDACTED_KEYS = frozenset(
    {"password", "secret", "token", "code", "cookie", "authorization", "state"}
)


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # timestamps in UTC, whatever the host's zone

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            entry["method"] = request.method
            entry["path"] = request.path
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = "[redacted]" if any(s in key.lower() for s in _REDACTED_KEYS) else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _NoLibraryDebug(logging.Filter):
    """Libraries log whole token responses at DEBUG (Authlib: "Issue token %r"): never let
    those records through, whatever level someone sets."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_QUIET = _NoLibraryDebug()


def quiet_libraries() -> None:
    """Filter every logger of those libraries (a filter is not inherited by child loggers)."""
    names = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.split(".")[0] in ("authlib", "joserfc")
    ]
    for name in ("authlib", "joserfc", *names):
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the app's loggers (gunicorn's own logs keep their format)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("idp")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class RequestIds:
    """New request ids: 64 random bits per process, then a counter.

    Unique across workers and hosts without a system call per request (``os.urandom`` showed
    in profiles of the hot path). Not secret: an id only finds log lines. The prefix is drawn
    again after a fork, so workers forked from one loaded app never share it.
    """

    def __init__(self) -> None:
        self._pid = 0
        self._prefix = ""
        self._counter = itertools.count()

    def new(self) -> str:
        pid = os.getpid()
        if pid != self._pid:
            self._pid, self._prefix = pid, secrets.token_hex(8)
        return f"{self._prefix}{next(self._counter):08x}"

    def of(self, offered: str | None) -> str:
        """The request's id: the one a proxy sent when it looks like one, else a new one."""
        return offered if offered and REQUEST_ID.fullmatch(offered) else self.new()


def request_ids(app: Flask) -> RequestIds:
    ids: RequestIds = app.extensions[KEY]
    return ids


def init_app(app: Flask) -> None:
    ids = app.extensions[KEY] = RequestIds()

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = ids.of(request.headers.get("X-Request-ID"))

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
