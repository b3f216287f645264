from __future__ import annotations

import pytest

from idp.security.origins import is_loopback_host, is_trusted_origin, origin_of


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Chat.Example/path?q", "https://chat.example"),
        ("https://chat.example:443", "https://chat.example"),
        ("http://chat.example:80/", "http://chat.example"),
        ("http://localhost:3000/x", "http://localhost:3000"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
    ],
)
def test_origin_is_normalized(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "",
        "null",
        "chat.example",
        "//chat.example",
        "ftp://chat.example",
        "https://a@chat.example",
        "https://chat.example./",
        "https://chat.example:99999/",
        "https://chat.example\\@evil",
    ],
)
def test_values_without_a_usable_origin_give_none(url: str) -> None:
    assert origin_of(url) is None


def test_trusted_origin_is_an_exact_match() -> None:
    trusted = frozenset({"https://chat.example"})
    assert is_trusted_origin("https://chat.example", trusted)
    assert not is_trusted_origin("https://sub.chat.example", trusted)
    assert not is_trusted_origin("https://chat.example.evil", trusted)
    assert not is_trusted_origin(None, trusted)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("chat.example", False),
        ("10.0.0.1", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
