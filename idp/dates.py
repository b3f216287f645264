"""Date formats shared by the JSON APIs and the tokens."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """JavaScript's ``Date.prototype.toISOString()``: milliseconds, UTC, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
