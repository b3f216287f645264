"""What the hostile-input tests share: a browser's URL parser (as far as origins go), database
snapshots, signed-in browsers, and JOSE forgery helpers.

The URL parser follows the WHATWG URL Standard (https://url.spec.whatwg.org/) for the parts that
decide where a browser goes: leading and trailing C0 controls and spaces are stripped, tabs and
newlines removed anywhere, schemes lower-cased, ``\\`` read as ``/`` in special schemes, any run
of slashes after a special scheme ignored, user information dropped up to the last ``@``, the
host percent-decoded, mapped by UTS #46 and IDNA-encoded, IPv4 numbers in every radix
normalised, and a default port dropped. It answers the origin of the URL a ``Location`` header
sends the browser to, or ``None`` where a browser fails to parse it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import idna
from flask import Flask
from sqlalchemy import func, select

from idp.models import Account, Session, SignInState, User, db
from tests.live import LiveServer

#: The fake Google's client secret behind the live servers (a secret the logs must not show).
LIVE_GOOGLE_SECRET = "live-google-secret-b7d1c0e94a"
#: The ``start_live`` fixture: start gunicorn with ``workers`` and extra ``IDP_*`` settings.
StartLive = Callable[..., LiveServer]

# -- a browser's URL parser, as far as origins go -------------------------------------------------

SPECIAL_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_C0_CONTROL_OR_SPACE = "".join(chr(c) for c in range(0x21))
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | {chr(c) for c in range(0x20)} | {"%", "\x7f"}
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")


@dataclass(frozen=True)
class BrowserURL:
    scheme: str
    host: str | None  # None: no host (javascript:, data:, mailto:, …)
    port: int | None  # None: the scheme's default

    @property
    def origin(self) -> str:
        """The serialized origin (HTML's "ASCII serialization"), ``"null"`` when opaque."""
        if self.host is None or self.scheme not in SPECIAL_PORTS:
            return "null"
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def browser_parse(url: str, base: str | None = None) -> BrowserURL | None:
    """Where a browser goes for ``url`` resolved against ``base``; None if it cannot parse it."""
    base_url = browser_parse(base) if base is not None else None
    text = url.strip(_C0_CONTROL_OR_SPACE)
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(text)
    if match is not None:
        scheme = match.group()[:-1].lower()
        rest = text[match.end() :]
        if scheme not in SPECIAL_PORTS:
            return BrowserURL(scheme, None, None)  # opaque: javascript:, data:, file:, …
        if base_url is not None and base_url.scheme == scheme and not rest.startswith("//"):
            return _relative(rest, base_url)  # "special relative or authority state"
        return _authority(scheme, rest.lstrip("/\\"))  # "special authority ignore slashes"
    if base_url is None or base_url.host is None:
        return None
    return _relative(text, base_url)


def browser_origin(url: str, base: str | None = None) -> str | None:
    parsed = browser_parse(url, base)
    return parsed.origin if parsed is not None else None


def _relative(rest: str, base: BrowserURL) -> BrowserURL | None:
    # "relative state" then "relative slash state": in a special scheme "\" is a "/".
    if rest[:1] in ("/", "\\") and rest[1:2] in ("/", "\\"):
        return _authority(base.scheme, rest[2:].lstrip("/\\"))
    return base


def _authority(scheme: str, rest: str) -> BrowserURL | None:
    end = min((i for i in (rest.find(c) for c in "/\\?#") if i >= 0), default=len(rest))
    authority = rest[:end].rpartition("@")[2]  # user information ends at the last "@"
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return None
        host_text, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            return None
        port_text = after[1:] if after else ""
    else:
        host_text, _, port_text = authority.partition(":")
    if port_text and not (port_text.isascii() and port_text.isdigit()):
        return None
    port = int(port_text) if port_text else None
    if port is not None and port > 65535:
        return None
    if port == SPECIAL_PORTS[scheme]:
        port = None
    host = _host(host_text)
    return None if host is None else BrowserURL(scheme, host, port)


def _host(text: str) -> str | None:
    if not text:
        return None
    if text.startswith("["):
        if not text.endswith("]"):
            return None
        try:
            return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
        except ValueError:
            return None
    domain = unquote_to_bytes(text).decode("utf-8", errors="replace")
    try:
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
        labels = [
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
            for label in mapped.split(".")
        ]
    except (idna.IDNAError, UnicodeError):
        return None
    ascii_domain = ".".join(labels)
    if not ascii_domain or any(ch in _FORBIDDEN_DOMAIN for ch in ascii_domain):
        return None
    return _ipv4(ascii_domain) if _ends_in_a_number(ascii_domain) else ascii_domain


def _ends_in_a_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    return _NUMERIC_LABEL.fullmatch(parts[-1]) is not None


def _ipv4_number(part: str) -> int | None:
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        part, radix = part[1:], 8
    if part == "":
        return 0
    try:
        return int(part, radix) if part.isascii() and part.isalnum() else None
    except ValueError:
        return None


def _ipv4(domain: str) -> str | None:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4 or any(p == "" for p in parts):
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = values[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(values[:-1]))
    return str(ipaddress.IPv4Address(address))


# -- the database ---------------------------------------------------------------------------------


def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table, as sorted strings: equal snapshots mean nothing changed."""
    with app.app_context():
        tables = {
            table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()))
            for table in db.metadata.sorted_tables
        }
        db.session.rollback()
    return tables


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        found = {
            name: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (
                ("users", User),
                ("accounts", Account),
                ("sessions", Session),
                ("pending", SignInState),
            )
        }
        db.session.rollback()
    return found


# -- browsers -------------------------------------------------------------------------------------


@contextmanager
def logging_off() -> Iterator[None]:
    """Silence every logger: for the test's own steps as a browser (they are not our logs)."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


# -- JOSE -----------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unb64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def header_and_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    header: dict[str, Any] = unb64json(head)
    claims: dict[str, Any] = unb64json(body)
    return header, claims


def flip(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another of the base64url alphabet."""
    replacement = "B" if text[index] == "A" else "A"
    if text[index] == ".":
        replacement = "A"
    return text[:index] + replacement + text[index + 1 :]


def sample_positions(length: int, count: int = 24) -> list[int]:
    """Positions spread over a string: both ends, and evenly in between."""
    if length <= count:
        return list(range(length))
    step = (length - 1) / (count - 1)
    return sorted({round(i * step) for i in range(count)})
