"""The session of the current request: read from the cookie, slid, and written back.

A view calls :func:`current_session` (or :func:`require_session`) and, to sign in or out,
:func:`start_cookie` / :func:`end_cookie`; the cookie itself is written once, in
:func:`write_cookies`, after the view has run.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response, g, request

from idp.errors import SessionNotFreshError, UnauthorizedError
from idp.runtime import get_runtime
from idp.sessions import policy, store
from idp.sessions.cookies import SESSION_COOKIE, CookieJar
from idp.sessions.store import SessionView, UserView
from idp.users.presentation import Presentation

_LOADED = "idp_session"
_SET = "idp_session_cookie_set"
_CLEAR = "idp_session_cookie_clear"


@dataclass
class CurrentSession:
    session: SessionView
    user: UserView
    token: str
    presentation: Presentation


def cookie_jar() -> CookieJar:
    jar: CookieJar = get_runtime().cookies
    return jar


def _presented_token() -> str | None:
    jar = cookie_jar()
    return jar.decode(SESSION_COOKIE, request.cookies.get(jar.name(SESSION_COOKIE)))


def current_session(*, refresh: bool = True) -> CurrentSession | None:
    """The signed-in session, or None. Slides the session when it is due (once a request)."""
    if _LOADED in g:
        loaded: CurrentSession | None = g.get(_LOADED)
        return loaded
    token = _presented_token()
    if token is None:
        g.setdefault(_LOADED, None)
        return None
    runtime = get_runtime()
    opened = store.open_in_request(token, runtime.now(), slide=refresh, settings=runtime.settings)
    found = opened.found
    if found is None:  # ours, but revoked or expired: tell the browser to drop it
        g.setdefault(_LOADED, None)
        end_cookie()
        return None
    if opened.extended:
        start_cookie(token)
    loaded = CurrentSession(
        session=found.session, user=found.user, token=token, presentation=found.presentation
    )
    setattr(g, _LOADED, loaded)
    return loaded


def require_session() -> CurrentSession:
    current = current_session()
    if current is None:
        raise UnauthorizedError()
    return current


def require_fresh_session() -> CurrentSession:
    """A session created within ``session_fresh_age`` (Better Auth's fresh-session rule).

    Sensitive endpoints ask for it, so that a stolen, long-lived cookie cannot manage accounts.
    Sliding does not make a session fresh again: only signing in does.
    """
    current = require_session()
    runtime = get_runtime()
    fresh_age = runtime.settings.session_fresh_age
    if fresh_age and not policy.is_fresh(current.session.created_at, runtime.now(), fresh_age):
        raise SessionNotFreshError()
    return current


def start_cookie(token: str) -> None:
    g.pop(_CLEAR, None)
    setattr(g, _SET, token)


def end_cookie() -> None:
    g.pop(_SET, None)
    setattr(g, _CLEAR, True)


def write_cookies(response: Response) -> Response:
    settings = get_runtime().settings
    jar = cookie_jar()
    token = g.get(_SET)
    if token is not None:
        jar.set(response, SESSION_COOKIE, token, max_age=settings.session_expires_in)
    elif g.get(_CLEAR):
        jar.clear(response, SESSION_COOKIE)
    return response


def init_app(app: Flask) -> None:
    app.after_request(write_cookies)
