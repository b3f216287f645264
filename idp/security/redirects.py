"""Which redirect targets a browser may be sent to: the open-redirect defence.

``callbackURL``, ``errorCallbackURL`` and ``newUserCallbackURL`` accept a relative path of a
safe form, or an absolute URL on a trusted origin (see RFC 9700 section 4.11 on open redirectors).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from idp.security.origins import origin_of

MAX_URL_LENGTH = 2048
# The authority of an absolute target: a plain host name or IP literal and an optional port.
# Anything else (user information, percent-encoding, odd characters) could be read differently
# by the browser than by us, so it is refused rather than interpreted.
_PLAIN_AUTHORITY = re.compile(
    r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(?=[/?#]|$)"
)


def _has_unsafe_characters(value: str) -> bool:
    return any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or "\\" in value


def is_safe_relative_path(value: str) -> bool:
    """A path on our own origin: ``/`` followed by anything a browser cannot read as a host.

    Refuses protocol-relative forms (``//evil``, ``/\\evil``) also when percent-encoded, because
    some proxies and frameworks decode the path before the browser sees it.
    """
    if not value.startswith("/") or _has_unsafe_characters(value):
        return False
    decoded = unquote(unquote(value))
    if decoded.startswith("//") or "\\" in decoded or _has_unsafe_characters(decoded):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc


def is_allowed_redirect(value: str, trusted_origins: frozenset[str]) -> bool:
    """True for a safe relative path or an absolute http(s) URL on a trusted origin."""
    if not value or len(value) > MAX_URL_LENGTH:
        return False
    if value.startswith("/"):
        return is_safe_relative_path(value)
    origin = origin_of(value)
    if origin is None or origin not in trusted_origins:
        return False
    return _PLAIN_AUTHORITY.match(value) is not None
