"""``flask data prune``: expired rows go, live ones and reuse detection stay."""

from __future__ import annotations

import json

from flask import Flask

from idp.models import OAuthCode, OAuthGrant, OAuthToken, Session
from tests.conftest import FrozenClock
from tests.helpers import row_count, signed_in
from tests.oidc_helpers import AuthRequest, authorize, code_from, register, tokens_for
from tests.protocol.test_oidc_abuse import assert_token_error, refresh, userinfo_status

DAY = 86400


def prune(app: Flask) -> dict[str, int]:
    result = app.test_cli_runner().invoke(args=["data", "prune", "--json"])
    assert result.exit_code == 0, result.output
    counts: dict[str, int] = json.loads(result.output)
    return counts


def test_prune_deletes_only_what_expired_and_keeps_spent_refresh_tokens_for_reuse_detection(
    app: Flask, clock: FrozenClock
) -> None:
    client = register(app)
    browser = signed_in(app)
    first = tokens_for(browser, client, scope="openid offline_access")
    second = refresh(browser, client, first["refresh_token"]).get_json()
    abandoned = AuthRequest(client, scope="openid")
    code_from(authorize(browser, abandoned), abandoned)  # a code nobody redeems
    assert row_count(app, OAuthCode) == 2 and row_count(app, OAuthToken) == 2

    assert prune(app)["oauth_tokens"] == 0  # nothing has expired yet
    clock.advance(2 * 3600)  # codes and access tokens expired; refresh tokens live on
    counts = prune(app)
    assert counts["oauth_codes"] == 2
    assert counts["oauth_grants"] == 1  # the abandoned code's grant
    assert counts["oauth_tokens"] == 0 and counts["sessions"] == 0
    assert row_count(app, OAuthToken) == 2

    # The spent refresh token was kept: presenting it again still revokes the whole grant.
    assert_token_error(refresh(browser, client, first["refresh_token"]), "invalid_grant")
    assert_token_error(refresh(browser, client, second["refresh_token"]), "invalid_grant")

    clock.advance(31 * DAY)  # every refresh token and the session have expired
    counts = prune(app)
    assert counts["oauth_tokens"] == 2
    assert counts["oauth_grants"] == 1
    assert counts["sessions"] == 1
    assert row_count(app, OAuthToken) == row_count(app, OAuthGrant) == row_count(app, Session) == 0
    assert prune(app) == dict.fromkeys(counts, 0)  # idempotent


def test_prune_leaves_a_signed_in_user_and_their_live_tokens_alone(
    app: Flask, clock: FrozenClock
) -> None:
    client = register(app)
    browser = signed_in(app)
    tokens = tokens_for(browser, client, scope="openid offline_access")
    clock.advance(600)
    counts = prune(app)
    assert counts["sessions"] == counts["oauth_tokens"] == counts["oauth_grants"] == 0
    assert userinfo_status(browser, tokens["access_token"]) == 200
    assert refresh(browser, client, tokens["refresh_token"]).status_code == 200
    assert browser.get("/api/auth/get-session").get_json() is not None


def test_prune_speaks_to_humans_too(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["data", "prune"])
    assert result.exit_code == 0
    assert result.output.strip().startswith("sessions=0 signin_states=")
