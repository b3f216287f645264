"""The rules of how a name looks in chat, as pure functions.

A ``nameColor`` must stay readable on both of the chat's backgrounds: its contrast ratio (WCAG
2.2, 1.4.11) must be at least 3:1 against the light background and against the dark one. That
keeps out near-white, near-black and the few hues too dark or too light for either theme,
while leaving the saturated mid-tones a chat is made of.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
LIGHT_BACKGROUND = "#FFFFFF"
DARK_BACKGROUND = "#18181B"
MIN_CONTRAST = 3.0
MAX_FLAIR_LENGTH = 32


@dataclass(frozen=True)
class Presentation:
    """How a user appears in chat, as the session, tokens and claims carry it."""

    name_color: str | None
    badges: list[dict[str, Any]]
    flair: dict[str, Any] | None
    role: str


class PresentationError(ValueError):
    """A value that may not be shown; the message says why, in words for the user."""


def _channel(value: int) -> float:
    srgb = value / 255
    return srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG relative luminance of ``#RRGGBB``."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def checked_color(value: str) -> str:
    """A ``#RRGGBB`` colour, upper-cased; any other form is refused."""
    if not HEX_COLOR.fullmatch(value):
        raise PresentationError("a colour must be written #RRGGBB")
    return value.upper()


def checked_name_color(value: str) -> str:
    color = checked_color(value)
    light, dark = contrast(color, LIGHT_BACKGROUND), contrast(color, DARK_BACKGROUND)
    worst = int(min(light, dark) * 100) / 100  # truncated, so 2.97 never reads as 3.0
    if min(light, dark) < MIN_CONTRAST:
        raise PresentationError(
            f"{color} is hard to read on the {'light' if light < dark else 'dark'} chat theme "
            f"(contrast {worst:.2f}:1, at least {MIN_CONTRAST:.0f}:1 needed)"
        )
    return color


def checked_flair_text(value: str) -> str:
    """Short text or emoji: no control or invisible formatting characters, at most 32 long."""
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise PresentationError("a flair needs some text or an emoji")
    if len(text) > MAX_FLAIR_LENGTH:
        raise PresentationError(f"a flair is at most {MAX_FLAIR_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in text):
        raise PresentationError("a flair may not contain control characters")
    if any(unicodedata.category(ch) == "Cf" and ch not in "\u200d\ufe0f" for ch in text):
        # Zero-width joiner and variation selector 16 build emoji; other format characters
        # (bidi overrides, invisible separators) only serve to deceive.
        raise PresentationError("a flair may not contain invisible formatting characters")
    return text


SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def checked_slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise PresentationError("a slug is lower-case letters, digits and dashes (at most 63)")
    return value
