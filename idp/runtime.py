"""The per-app runtime: settings, clock, randomness and upstream connectors.

Created once by :func:`idp.create_app` and kept in ``app.extensions``; nothing lives at module
level. Tests inject a fixed clock and their own randomness through ``create_app``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from flask import Flask, current_app

from idp.config import Settings
from idp.sessions.cookies import CookieJar

if TYPE_CHECKING:
    from idp.connectors.registry import ConnectorRegistry
    from idp.keys.ring import KeyRing
    from idp.signin.state import PendingSignIns

EXTENSION_KEY = "idp"
Clock = Callable[[], datetime]

_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 32


def system_clock() -> datetime:
    return datetime.now(UTC)


class Randomness(Protocol):
    def token(self, nbytes: int = 32) -> str:
        """A URL-safe string carrying ``nbytes`` random bytes."""

    def identifier(self) -> str:
        """A public identifier (32 alphanumerics, about 190 bits)."""


class SystemRandomness:
    """Randomness from the operating system's CSPRNG."""

    def token(self, nbytes: int = 32) -> str:
        return secrets.token_urlsafe(nbytes)

    def identifier(self) -> str:
        # One system call, not one per character: bytes below 248 (4 x 62) map to the
        # alphabet without bias; the rest are thrown away and more drawn if need be.
        chosen: list[str] = []
        while len(chosen) < _ID_LENGTH:
            chosen.extend(_ID_ALPHABET[b % 62] for b in secrets.token_bytes(40) if b < 248)
        return "".join(chosen[:_ID_LENGTH])


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    random: Randomness
    connectors: ConnectorRegistry
    cookies: CookieJar
    keys: KeyRing
    pending: PendingSignIns  # sign-ins between their start and the provider's callback

    def now(self) -> datetime:
        return self.clock()


def get_runtime(app: Flask | None = None) -> Runtime:
    runtime: Runtime = (app or current_app).extensions[EXTENSION_KEY]
    return runtime
