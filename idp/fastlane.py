"""The two hottest requests, answered before Flask: ``GET /api/auth/get-session`` and the JWKS.

get-session runs on every page load of every site, and the JWKS is what every verifier
fetches. Flask's dispatch (contexts, URL matching, a dozen hooks from us and our extensions)
costs more CPU than the work these two requests do: about half of a signed-in get-session and
nearly all of a JWKS answer (docs/performance.md). The lane is a WSGI middleware that answers
exactly these GETs with the functions the Flask views use (session reading and sliding from
:mod:`idp.sessions.store`, cookie headers from :class:`CookieJar`, the JSON shape from
:mod:`idp.api.serializers`, the JWKS answer from :mod:`idp.keys.views`) and the cross-cutting
headers, metrics and request id that Flask's hooks would add.

Anything else goes on to Flask untouched, and so does any request the lane cannot finish in
the usual way: a key ring due for its reload, an empty key ring, an error of any kind (the
request is then answered by Flask's view and the one error handler, as if the lane were not
there). tests/protocol/test_fastlane.py holds the lane's answers equal to Flask's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from werkzeug.http import parse_cookie

from idp.answers import Answer
from idp.api.serializers import get_session_json
from idp.keys.views import JWKS_PATHS, jwks_answer
from idp.ops import logs
from idp.ops.metrics import metrics
from idp.runtime import get_runtime
from idp.security.headers import security_headers
from idp.sessions import store
from idp.sessions.cookies import SESSION_COOKIE

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

log = logging.getLogger(__name__)

GET_SESSION_PATH = "/api/auth/get-session"
# The Flask endpoints these paths have, so that metrics and headers read the same either way.
ENDPOINTS = {
    GET_SESSION_PATH: "api.get_session",
    JWKS_PATHS[0]: "wellknown.jwks",
    JWKS_PATHS[1]: "api.jwks",
}
_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class FastLane:
    def __init__(self, app: Flask, engine: Engine, following: WSGIApplication) -> None:
        self.app = app
        self.engine = engine
        self.following = following  # Flask, for everything the lane does not answer
        runtime = get_runtime(app)
        self.runtime = runtime
        self.metrics = metrics(app)
        self.request_ids = logs.request_ids(app)
        self._known: dict[tuple[str, int], tuple[Any, Any]] = {}
        # jsonify's formatting: compact, but indented when debugging (Flask's own rule).
        compact = getattr(app.json, "compact", None)
        indented = compact is False or (compact is None and app.debug)
        self._json_format: dict[str, Any] = (
            {"indent": 2} if indented else {"separators": (",", ":")}
        )
        self.trusted = frozenset(o.lower() for o in runtime.settings.all_trusted_origins)
        self.handlers: dict[str, Callable[[WSGIEnvironment], Answer | None]] = {
            GET_SESSION_PATH: self.get_session,
            JWKS_PATHS[0]: self.jwks,
            JWKS_PATHS[1]: self.jwks,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        handler = self.handlers.get(path) if environ.get("REQUEST_METHOD") == "GET" else None
        if handler is None:
            return self.following(environ, start_response)
        started = time.perf_counter()
        request_id = self.request_ids.of(environ.get("HTTP_X_REQUEST_ID"))
        try:
            answer = handler(environ)
        except OperationalError:
            answer = None  # the database is down: Flask's error handler says so (503)
        except Exception:
            log.exception(
                "fast lane failed; Flask answers", extra={"fields": {"request_id": request_id}}
            )
            answer = None
        if answer is None:
            environ["HTTP_X_REQUEST_ID"] = request_id  # one id for the lane's log line and Flask's
            return self.following(environ, start_response)
        endpoint = ENDPOINTS[path]
        headers = [
            *answer.headers,
            *security_headers(endpoint),
            ("X-Request-ID", request_id),
        ]
        start_response(f"{answer.status} {_REASONS[answer.status]}", headers)
        counter, histogram = self._series(endpoint, answer.status)
        counter.inc()
        histogram.observe(time.perf_counter() - started)
        return [answer.body]

    def _series(self, endpoint: str, status: int) -> tuple[Any, Any]:
        """The metric series of an answer, looked up once (``labels()`` takes a lock)."""
        series = self._known.get((endpoint, status))
        if series is None:
            recorded = self.metrics
            series = self._known[endpoint, status] = (
                recorded.requests.labels(endpoint, "GET", str(status)),
                recorded.latency.labels(endpoint),
            )
        return series

    def get_session(self, environ: WSGIEnvironment) -> Answer:
        runtime = self.runtime
        settings = runtime.settings
        jar = runtime.cookies
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        token = jar.decode(SESSION_COOKIE, cookies.get(jar.name(SESSION_COOKIE)))
        payload: Any = None
        cookie: str | None = None
        if token is not None:
            opened = store.open_on(
                self.engine,
                token,
                runtime.now(),
                # Better Auth coerces the query value: any non-empty value, "false" too, is true.
                slide=not _query_value(environ, "disableRefresh"),
                settings=settings,
            )
            found = opened.found
            if found is None:  # ours, but revoked or expired: tell the browser to drop it
                cookie = jar.clearing_header(SESSION_COOKIE)
            else:
                payload = get_session_json(found.session, found.user, found.presentation)
                if opened.extended:
                    cookie = jar.header(SESSION_COOKIE, token, max_age=settings.session_expires_in)
        body = f"{self.app.json.dumps(payload, **self._json_format)}\n".encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *_NO_STORE,
        ]
        if cookie is not None:
            headers.append(("Set-Cookie", cookie))
        headers.extend(self.cors(environ))
        return Answer(200, headers, body)

    def jwks(self, environ: WSGIEnvironment) -> Answer | None:
        snapshot = self.runtime.keys.current()
        if snapshot is None or not snapshot.published_kids:
            return None  # a reload (or a first key) is due: a regular request does it
        return jwks_answer(
            snapshot, environ.get("HTTP_IF_NONE_MATCH"), self.runtime.settings.jwks_max_age
        )

    def cors(self, environ: WSGIEnvironment) -> list[tuple[str, str]]:
        """What flask-cors adds to an ``/api/auth`` answer (credentialed, trusted origins only;
        origins compared without regard to case; Vary only when more than one is trusted)."""
        origin = environ.get("HTTP_ORIGIN")
        if not origin or origin.lower() not in self.trusted:
            return []
        headers = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
        ]
        if environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK") == "true":
            headers.append(("Access-Control-Allow-Private-Network", "false"))
        if len(self.trusted) > 1:
            headers.append(("Vary", "Origin"))
        return headers


_REASONS = {200: "OK", 304: "NOT MODIFIED"}


def _query_value(environ: WSGIEnvironment, name: str) -> str | None:
    """The first value of ``name`` in the query string (as ``request.args.get`` reads it)."""
    for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        if key == name:
            return str(value)
    return None


def init_app(app: Flask, engine: Engine) -> None:
    """Put the lane in front of everything else (after :class:`ProxyFix`, which it does not
    need: neither answer depends on the client's address or scheme)."""
    app.wsgi_app = FastLane(app, engine, app.wsgi_app)  # type: ignore[method-assign]
