"""What a string from outside must be before it may be stored or looked up."""

from __future__ import annotations

from typing import Any, TypeGuard


def storable(value: Any) -> TypeGuard[str]:
    """Text a database can hold: no NUL (PostgreSQL refuses it in a text parameter, with an
    error rather than a miss) and no lone surrogate (JSON's escapes can spell one; it cannot be
    encoded as UTF-8)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
