"""Reading and validating JSON request bodies; every failure is a typed 4xx."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from idp.errors import MalformedJSONError, UnsupportedMediaTypeError, ValidationError
from idp.security.text import storable

MAX_STRING = 2048


def json_body() -> dict[str, Any]:
    """The request's JSON object. An empty body counts as ``{}``.

    Only ``application/json`` is accepted: it cannot be sent cross-site without a CORS preflight.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        if not request.mimetype:
            raise UnsupportedMediaTypeError()
        raise UnsupportedMediaTypeError(
            f'Content-Type "{request.mimetype[:100]}" is not allowed. '
            "Allowed types: application/json"
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedJSONError() from None
    if not isinstance(body, dict):
        raise ValidationError("[body] Invalid input: expected object")
    return body


def string(
    body: dict[str, Any],
    key: str,
    *,
    required: bool = False,
    max_length: int = MAX_STRING,
    redirect: bool = False,
) -> str | None:
    """A string member. It must be :func:`storable` text, unless it is a ``redirect`` target:
    those go to the redirect check, which refuses a NUL with Better Auth's own error code."""
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(
                f"[body.{key}] Invalid input: expected string, received undefined"
            )
        return None
    if not isinstance(value, str):
        raise ValidationError(f"[body.{key}] Invalid input: expected string")
    if not redirect and not storable(value):
        raise ValidationError(f"[body.{key}] Invalid input: expected text (no NUL character)")
    if len(value) > max_length:
        raise ValidationError(
            f"[body.{key}] Too big: expected string to have <={max_length} characters"
        )
    return value


def required_string(body: dict[str, Any], key: str, *, max_length: int = MAX_STRING) -> str:
    value = string(body, key, required=True, max_length=max_length)
    assert value is not None
    return value


def boolean(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ValidationError(f"[body.{key}] Invalid input: expected boolean")
    return value


def string_list(body: dict[str, Any], key: str, *, max_items: int = 20) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > max_items
        or not all(storable(v) and 0 < len(v) <= 128 for v in value)
    ):
        raise ValidationError(f"[body.{key}] Invalid input: expected array of strings")
    return tuple(value)


# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")


def scope_list(body: dict[str, Any], key: str, *, max_items: int = 20) -> tuple[str, ...]:
    """Extra scopes for the upstream request: each one a valid scope-token."""
    scopes = string_list(body, key, max_items=max_items)
    if not all(_SCOPE_TOKEN.fullmatch(scope) for scope in scopes):
        raise ValidationError(f"[body.{key}] Invalid input: expected scope tokens")
    return scopes
