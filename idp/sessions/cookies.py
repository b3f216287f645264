"""Cookie names and attributes (pure), and the signed cookie values.

Names follow Better Auth (``better-auth.session_token``, with the ``__Secure-`` prefix on https)
so that its helpers (for example ``getSessionCookie`` in a Next.js middleware) find them.
Every cookie is HttpOnly and SameSite=Lax: no script ever reads a session token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask.sessions import SessionInterface
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Response

from idp.config import Settings
from idp.security.secrets import derive_key, sign, unsign

SESSION_COOKIE = "session_token"
STATE_COOKIE = "state"
MAX_COOKIE_VALUE = 512


@dataclass(frozen=True)
class CookieJar:
    """How this deployment names, signs and scopes its cookies."""

    prefix: str
    secure: bool
    domain: str | None
    secret_key: str = field(repr=False)
    _keys: dict[str, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> CookieJar:
        return cls(
            prefix=settings.cookie_prefix,
            secure=settings.secure_cookies,
            domain=settings.cookie_domain,
            secret_key=settings.secret_key,
        )

    def name(self, cookie: str) -> str:
        # "__Secure-" makes the browser refuse the cookie unless it was set over https.
        return f"{'__Secure-' if self.secure else ''}{self.prefix}.{cookie}"

    def _key(self, cookie: str) -> bytes:
        """The cookie's own signing key, derived once (the derivation is two HMACs)."""
        key = self._keys.get(cookie)
        if key is None:
            key = self._keys[cookie] = derive_key(self.secret_key, f"cookie:{cookie}")
        return key

    def encode(self, cookie: str, value: str) -> str:
        return sign(value, self._key(cookie))

    def decode(self, cookie: str, raw: str | None) -> str | None:
        """The value of a cookie we signed, or None if absent, oversized or tampered with."""
        if not raw or len(raw) > MAX_COOKIE_VALUE:
            return None
        return unsign(raw, self._key(cookie))

    def header(self, cookie: str, value: str, *, max_age: int) -> str:
        """The ``Set-Cookie`` value that stores ``value`` (signed) in ``cookie``."""
        return dump_cookie(
            self.name(cookie),
            self.encode(cookie, value),
            max_age=max_age,
            path="/",
            domain=self.domain,
            secure=self.secure,
            httponly=True,
            samesite="Lax",
        )

    def clearing_header(self, cookie: str) -> str:
        """The ``Set-Cookie`` value that makes the browser drop ``cookie``."""
        return dump_cookie(
            self.name(cookie),
            "",
            max_age=0,
            expires=0,
            path="/",
            domain=self.domain,
            secure=self.secure,
            httponly=True,
            samesite="Lax",
        )

    def set(self, response: Response, cookie: str, value: str, *, max_age: int) -> None:
        response.headers.add("Set-Cookie", self.header(cookie, value, max_age=max_age))

    def clear(self, response: Response, cookie: str) -> None:
        response.headers.add("Set-Cookie", self.clearing_header(cookie))


class NoFlaskSession(SessionInterface):
    """Flask's own signed-cookie session is not used: idp's sessions are server-side, behind
    the cookies above. Without this, Flask would look for and verify a ``session`` cookie on
    every request; with it, Flask hands out its null session, which refuses any write."""

    def open_session(self, app: Any, request: Any) -> None:
        return None

    def save_session(self, app: Any, session: Any, response: Any) -> None:
        return None
