"""When a refresh token presented again is forgiven (two tabs) and when it is reuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idp.oidc.rules import reuse_forgiven

SPENT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "grace", "forgiven"),
    [
        (0, 10, True),
        (10, 10, True),
        (10.001, 10, False),
        (3600, 10, False),
        (0, 0, False),  # no grace window: even the same instant is reuse
        (0.5, 1, True),
    ],
)
def test_a_second_presentation_is_forgiven_only_within_the_grace_window(
    after: float, grace: int, forgiven: bool
) -> None:
    assert reuse_forgiven(SPENT, SPENT + timedelta(seconds=after), grace) is forgiven
