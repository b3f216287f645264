"""Origins (RFC 6454) and the trusted-origin rule shared by CORS, CSRF and redirect checks."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The serialized origin of an absolute http(s) URL, or None when it has none.

    Scheme and host are lower-cased and a default port is dropped, so that two spellings of
    one origin compare equal (RFC 6454 section 6.2). URLs with user information, non-ASCII
    hosts, or characters that browsers strip or reinterpret are refused rather than normalized.
    """
    if not url or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    if "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None
    host = parts.hostname
    if not host or not host.isascii() or host.endswith("."):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_trusted_origin(origin: str | None, trusted: frozenset[str]) -> bool:
    """Exact match of the normalized origin against the trusted set (no wildcards, no suffixes)."""
    if not origin:
        return False
    return origin_of(origin) in trusted


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
