"""The open-redirect defence: which callbackURL values are accepted."""

from __future__ import annotations

import pytest

from idp.security.redirects import is_allowed_redirect

TRUSTED = frozenset({"https://chat.example", "http://localhost:3000"})


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/dashboard",
        "/dashboard?tab=1#top",
        "/a/b/c?next=%2Fx",
        "https://chat.example",
        "https://chat.example/",
        "https://chat.example/path?q=1",
        "https://CHAT.example/path",
        "https://chat.example:443/path",
        "http://localhost:3000/after",
    ],
)
def test_safe_targets_are_accepted(url: str) -> None:
    assert is_allowed_redirect(url, TRUSTED)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2f%2fevil.example",
        "/%2F%2Fevil.example",
        "/%5cevil.example",
        "/%252f%252fevil.example",
        "https:evil.example",
        "https:/evil.example",
        "https://evil.example",
        "https://chat.example.evil.example/",
        "https://chat.example@evil.example/",
        "https://user:pass@chat.example/",
        "https://chat.example:8443/",
        "http://chat.example/",
        "https://chat.example./",
        "https://ch\u0430t.example/",  # a Cyrillic letter: an IDN lookalike
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/dash\nboard",
        "/dash\tboard",
        " /dashboard",
        "/dashboard ",
        "dashboard",
        "ftp://chat.example/",
        "http://localhost:3001/",
        "/" + "a" * 3000,
    ],
)
def test_unsafe_targets_are_refused(url: str) -> None:
    assert not is_allowed_redirect(url, TRUSTED)
