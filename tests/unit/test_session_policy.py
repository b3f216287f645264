"""Session sliding: Better Auth's expiresIn / updateAge rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from idp.sessions import policy

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
WEEK, DAY = 7 * 86400, 86400


def test_a_session_issued_now_is_not_refreshed() -> None:
    assert not policy.needs_refresh(
        NOW + timedelta(seconds=WEEK), NOW, expires_in=WEEK, update_age=DAY
    )


def test_a_session_is_refreshed_once_update_age_has_passed() -> None:
    issued = NOW - timedelta(days=1)
    expires = issued + timedelta(seconds=WEEK)
    assert policy.needs_refresh(expires, NOW, expires_in=WEEK, update_age=DAY)
    assert not policy.needs_refresh(
        expires, NOW - timedelta(seconds=1), expires_in=WEEK, update_age=DAY
    )


def test_update_age_zero_refreshes_on_every_read() -> None:
    assert policy.needs_refresh(NOW + timedelta(seconds=WEEK), NOW, expires_in=WEEK, update_age=0)


def test_expiry_is_inclusive_of_the_instant() -> None:
    assert policy.is_expired(NOW, NOW)
    assert not policy.is_expired(NOW + timedelta(microseconds=1), NOW)


def test_freshness_is_measured_from_creation() -> None:
    assert policy.is_fresh(NOW - timedelta(hours=23), NOW, DAY)
    assert not policy.is_fresh(NOW - timedelta(days=1), NOW, DAY)
