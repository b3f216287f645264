"""How a user appears in chat, as get-session, the session JWT and OpenID's ``chat`` scope show it.

Admins shape it with ``flask badges`` and ``flask users``; the user picks a name colour and one
of their flairs with ``update-user``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet
from sqlalchemy import event
from werkzeug.test import TestResponse

from idp.keys import jose
from idp.models import User, db
from idp.oidc.claims import user_claims
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeUser
from tests.helpers import ORIGIN, session_of, signed_in
from tests.oidc_helpers import (
    AuthRequest,
    authorize,
    code_from,
    id_token_claims,
    redeem,
    register,
    token_request,
)

DAY = 86400
ICON = "https://cdn.example/badges/{}.png"
CHAT_CLAIMS = ("name_color", "badges", "flair", "role")


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def run(app: Flask, *args: str) -> Any:
    """A command that must succeed, in its --json form; returns what it printed."""
    result = cli(app, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def create_badge(
    app: Flask, slug: str, *, label: str, order: int, color: str | None = None
) -> None:
    args = ["badges", "create", slug, "--label", label, "--icon-url", ICON.format(slug)]
    args += ["--order", str(order)] + (["--color", color] if color else [])
    run(app, *args)


def user_of(browser: FlaskClient) -> dict[str, Any]:
    data = session_of(browser)
    assert data is not None
    user: dict[str, Any] = data["user"]
    return user


def update_user(browser: FlaskClient, body: dict[str, Any]) -> TestResponse:
    return browser.post("/api/auth/update-user", json=body, headers=ORIGIN)


def list_flairs(browser: FlaskClient) -> list[dict[str, Any]]:
    response = browser.get("/api/auth/list-flairs")
    assert response.status_code == 200, response.get_data(as_text=True)
    flairs: list[dict[str, Any]] = response.get_json()
    return flairs


def session_jwt_claims(browser: FlaskClient) -> dict[str, Any]:
    response = browser.get("/api/auth/token")
    assert response.status_code == 200, response.get_data(as_text=True)
    keys = KeySet.import_key_set(browser.get("/.well-known/jwks.json").get_json())
    _, claims = jose.verify_signature(response.get_json()["token"], keys)
    return claims


def dressed_up(app: Flask, browser: FlaskClient) -> str:
    """Give the signed-in user two badges, a name colour and a flair; returns their id."""
    user_id = user_of(browser)["id"]
    create_badge(app, "vip", label="VIP", order=2, color="#FF0000")
    create_badge(app, "founder", label="Founder", order=1)
    run(app, "users", "grant-badge", user_id, "vip")
    run(app, "users", "grant-badge", user_id, "founder")
    run(app, "users", "set-flair", user_id, "🔥 OG", "--color", "#FF0000")
    assert update_user(browser, {"nameColor": "#9146ff"}).status_code == 200
    return str(user_id)


def openid_tokens(app: Flask, browser: FlaskClient, scope: str) -> dict[str, Any]:
    client = register(app)
    request = AuthRequest(client, scope=scope)
    response = redeem(browser, request, code_from(authorize(browser, request), request))
    assert response.status_code == 200, response.get_data(as_text=True)
    tokens: dict[str, Any] = response.get_json()
    tokens["client"] = client
    return tokens


def userinfo(browser: FlaskClient, access_token: str) -> dict[str, Any]:
    response = browser.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    claims: dict[str, Any] = response.get_json()
    return claims


# -- get-session ---------------------------------------------------------------------------------


def test_a_new_user_is_a_plain_user_with_no_colour_no_badges_and_no_flair(
    app: Flask, google: FakeGoogle
) -> None:
    user = user_of(signed_in(app))

    assert user["role"] == "user"
    assert user["nameColor"] is None
    assert user["badges"] == []
    assert user["flair"] is None


def test_granted_badges_show_in_display_order_with_id_label_icon_and_colour(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]
    create_badge(app, "vip", label="VIP", order=2, color="#ff0000")
    create_badge(app, "founder", label="Founder", order=1)

    run(app, "users", "grant-badge", user_id, "vip")
    run(app, "users", "grant-badge", user_id, "founder")

    assert user_of(browser)["badges"] == [
        {"id": "founder", "label": "Founder", "icon": ICON.format("founder"), "color": None},
        {"id": "vip", "label": "VIP", "icon": ICON.format("vip"), "color": "#FF0000"},
    ]


def test_reordering_the_catalogue_reorders_everyones_badges(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]
    create_badge(app, "vip", label="VIP", order=2)
    create_badge(app, "founder", label="Founder", order=1)
    run(app, "users", "grant-badge", user_id, "vip")
    run(app, "users", "grant-badge", user_id, "founder")

    run(app, "badges", "update", "founder", "--order", "3", "--label", "Founding member")

    assert [(b["id"], b["label"]) for b in user_of(browser)["badges"]] == [
        ("vip", "VIP"),
        ("founder", "Founding member"),
    ]


def test_badges_of_equal_order_are_shown_by_id(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]
    for slug in ("zeta", "alpha", "mid"):
        create_badge(app, slug, label=slug.title(), order=0)
        run(app, "users", "grant-badge", user_id, slug)

    assert [b["id"] for b in user_of(browser)["badges"]] == ["alpha", "mid", "zeta"]


def test_a_badge_granted_for_one_day_disappears_once_the_day_has_passed(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]
    create_badge(app, "vip", label="VIP", order=1)
    create_badge(app, "founder", label="Founder", order=2)
    run(app, "users", "grant-badge", user_id, "vip", "--days", "1")
    run(app, "users", "grant-badge", user_id, "founder")

    clock.advance(DAY - 1)
    assert [b["id"] for b in user_of(browser)["badges"]] == ["vip", "founder"]

    clock.advance(2)
    assert [b["id"] for b in user_of(browser)["badges"]] == ["founder"]
    assert [b["id"] for b in session_jwt_claims(browser)["badges"]] == ["founder"]


def test_a_revoked_badge_and_a_deleted_badge_no_longer_show(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]
    create_badge(app, "vip", label="VIP", order=1)
    create_badge(app, "founder", label="Founder", order=2)
    run(app, "users", "grant-badge", user_id, "vip")
    run(app, "users", "grant-badge", user_id, "founder")

    run(app, "users", "revoke-badge", user_id, "vip")
    assert [b["id"] for b in user_of(browser)["badges"]] == ["founder"]

    assert cli(app, "badges", "delete", "founder").exit_code == 0
    assert user_of(browser)["badges"] == []


# -- nameColor through update-user ---------------------------------------------------------------


def test_update_user_sets_the_name_colour_in_upper_case(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)

    response = update_user(browser, {"nameColor": "#9146ff"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": True}
    assert user_of(browser)["nameColor"] == "#9146FF"


@pytest.mark.parametrize(
    "value",
    ["#FFFFFF", "#000000", "#0000FF", "#00FF00", "red", "#FFF", "FF0000", "#FF00001", "", 9146],
)
def test_an_unreadable_or_malformed_name_colour_is_a_validation_error_and_changes_nothing(
    app: Flask, google: FakeGoogle, value: object
) -> None:
    browser = signed_in(app)
    assert update_user(browser, {"nameColor": "#FF0000"}).status_code == 200
    before = user_of(browser)

    response = update_user(browser, {"nameColor": value, "name": "Someone Else"})

    assert response.status_code == 400
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert "nameColor" in response.get_json()["message"]
    assert user_of(browser) == before


def test_the_refusal_of_white_says_it_is_unreadable_on_the_light_theme(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)

    response = update_user(browser, {"nameColor": "#FFFFFF"})

    assert response.status_code == 400
    assert "light chat theme" in response.get_json()["message"]


def test_a_null_name_colour_clears_it(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)
    update_user(browser, {"nameColor": "#9146FF"})

    response = update_user(browser, {"nameColor": None})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert user_of(browser)["nameColor"] is None


def test_a_user_cannot_give_themself_a_role_or_badges(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)
    create_badge(app, "vip", label="VIP", order=1)
    badge = {"id": "vip", "label": "VIP", "icon": ICON.format("vip"), "color": None}

    response = update_user(
        browser, {"name": "Ada King", "role": "admin", "badges": [badge], "banned": False}
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    user = user_of(browser)
    assert user["name"] == "Ada King"
    assert user["role"] == "user"
    assert user["badges"] == []
    only_role = update_user(browser, {"role": "admin"})
    assert only_role.status_code == 400
    assert only_role.get_json()["code"] == "NO_FIELDS_TO_UPDATE"
    assert user_of(browser)["role"] == "user"


# -- flairs --------------------------------------------------------------------------------------


def test_an_admin_flair_is_made_available_and_selected(app: Flask, google: FakeGoogle) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]

    shown = run(app, "users", "set-flair", user_id, "🔥 OG", "--color", "#FF0000")

    flair = user_of(browser)["flair"]
    assert set(flair) == {"id", "text", "color"}
    assert flair["text"] == "🔥 OG"
    assert flair["color"] == "#FF0000"
    assert shown["flair"] == flair
    assert list_flairs(browser) == [flair]


def test_list_flairs_needs_a_session_and_is_not_cached(app: Flask, google: FakeGoogle) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/api/auth/list-flairs").status_code == 401
    browser = signed_in(app)

    response = browser.get("/api/auth/list-flairs")

    assert response.status_code == 200
    assert response.get_json() == []
    assert response.headers["Cache-Control"] == "no-store"


def test_a_null_flair_shows_none_and_the_flair_stays_available(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    run(app, "users", "set-flair", user_of(browser)["id"], "🔥 OG")
    available = list_flairs(browser)

    response = update_user(browser, {"flair": None})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert user_of(browser)["flair"] is None
    assert list_flairs(browser) == available


def test_a_user_picks_among_their_flairs(
    app: Flask, google: FakeGoogle, clock: FrozenClock
) -> None:
    browser = signed_in(app)
    user_id = user_of(browser)["id"]
    run(app, "users", "set-flair", user_id, "🔥 OG")
    clock.advance(60)
    run(app, "users", "set-flair", user_id, "❤️", "--color", "#e91e63")
    first, second = list_flairs(browser)
    assert (first["text"], second["text"]) == ("🔥 OG", "❤️")
    assert second["color"] == "#E91E63"
    assert user_of(browser)["flair"] == second  # the newest is selected

    response = update_user(browser, {"flair": first["id"]})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert user_of(browser)["flair"] == first


@pytest.mark.parametrize("whose", ["someone else's", "unknown", "empty"])
def test_a_flair_that_is_not_ones_own_is_refused_and_changes_nothing(
    app: Flask, google: FakeGoogle, whose: str
) -> None:
    ada = signed_in(app)
    run(app, "users", "set-flair", user_of(ada)["id"], "Ada's flair")
    adas_flair = user_of(ada)["flair"]["id"]
    google.user = FakeUser(
        sub="google-sub-grace", email="grace@example.com", email_verified=True, name="Grace"
    )
    grace = signed_in(app)
    run(app, "users", "set-flair", user_of(grace)["id"], "🔥 OG")
    before = user_of(grace)
    flair_id = {"someone else's": adas_flair, "unknown": "no-such-flair", "empty": ""}[whose]

    response = update_user(grace, {"flair": flair_id, "nameColor": "#9146FF"})

    assert response.status_code == 400
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert user_of(grace) == before
    assert user_of(ada)["flair"]["id"] == adas_flair
    assert [f["text"] for f in list_flairs(grace)] == ["🔥 OG"]


# -- the session JWT -----------------------------------------------------------------------------


def test_the_session_jwt_carries_the_same_presentation_as_get_session(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    dressed_up(app, browser)
    user = user_of(browser)

    claims = session_jwt_claims(browser)

    assert claims["role"] == user["role"] == "user"
    assert claims["nameColor"] == user["nameColor"] == "#9146FF"
    assert claims["badges"] == user["badges"]
    assert [b["id"] for b in claims["badges"]] == ["founder", "vip"]
    assert claims["flair"] == user["flair"]
    assert claims["flair"]["text"] == "🔥 OG"


def test_the_session_jwt_of_a_new_user_has_null_presentation(
    app: Flask, google: FakeGoogle
) -> None:
    claims = session_jwt_claims(signed_in(app))

    assert claims["role"] == "user"
    assert claims["nameColor"] is None
    assert claims["badges"] == []
    assert claims["flair"] is None


# -- OpenID Connect: the chat scope --------------------------------------------------------------


def test_the_chat_scope_releases_the_presentation_in_the_id_token_and_at_userinfo(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    user_id = dressed_up(app, browser)
    user = user_of(browser)

    tokens = openid_tokens(app, browser, "openid chat")
    claims = id_token_claims(browser, tokens["id_token"])
    info = userinfo(browser, tokens["access_token"])

    expected = {
        "name_color": "#9146FF",
        "badges": user["badges"],
        "flair": user["flair"],
        "role": "user",
    }
    assert claims["sub"] == user_id
    assert {k: claims[k] for k in CHAT_CLAIMS} == expected
    assert info == {"sub": user_id, **expected}


def test_the_chat_claims_cost_one_query_for_the_badges_and_one_for_the_flair(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    user_id = dressed_up(app, browser)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            claims = user_claims(user, CHAT_CLAIMS)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert claims["badges"] and claims["flair"]
    assert len(statements) == 2, statements


def test_without_the_chat_scope_the_presentation_is_not_released(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    dressed_up(app, browser)

    tokens = openid_tokens(app, browser, "openid profile email")
    claims = id_token_claims(browser, tokens["id_token"])
    info = userinfo(browser, tokens["access_token"])

    for name in CHAT_CLAIMS:
        assert name not in claims
        assert name not in info
    assert info["email"] == google.user.email


def test_with_the_chat_scope_a_plain_user_has_a_role_and_no_badges(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)

    tokens = openid_tokens(app, browser, "openid chat")
    claims = id_token_claims(browser, tokens["id_token"])

    assert claims["role"] == "user"
    assert claims["badges"] == []
    assert "name_color" not in claims  # claims without a value are left out (Core 5.3.2)
    assert "flair" not in claims


def test_a_refreshed_id_token_and_userinfo_show_the_presentation_as_it_is_now(
    app: Flask, google: FakeGoogle
) -> None:
    browser = signed_in(app)
    tokens = openid_tokens(app, browser, "openid chat offline_access")
    dressed_up(app, browser)

    refreshed = token_request(
        browser,
        tokens["client"],
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )

    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    claims = id_token_claims(browser, refreshed.get_json()["id_token"])
    assert claims["name_color"] == "#9146FF"
    assert [b["id"] for b in claims["badges"]] == ["founder", "vip"]
    assert claims["flair"]["text"] == "🔥 OG"
    assert userinfo(browser, refreshed.get_json()["access_token"])["flair"] == claims["flair"]


def test_discovery_advertises_the_chat_scope_and_its_claims(client: FlaskClient) -> None:
    document = client.get("/.well-known/openid-configuration").get_json()

    assert "chat" in document["scopes_supported"]
    assert set(CHAT_CLAIMS) <= set(document["claims_supported"])


@pytest.mark.parametrize("target", ["id_token", "userinfo"])
def test_a_client_not_allowed_the_chat_scope_cannot_ask_for_its_claims_by_name(
    app: Flask, google: FakeGoogle, target: str
) -> None:
    browser = signed_in(app)
    dressed_up(app, browser)
    client = register(app, "--scope", "openid", "--scope", "profile")
    request = AuthRequest(
        client,
        scope="openid profile chat",
        extra={"claims": json.dumps({target: {name: None for name in CHAT_CLAIMS}})},
    )
    response = redeem(browser, request, code_from(authorize(browser, request), request))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["scope"].split() == ["openid", "profile"]

    claims = id_token_claims(browser, response.get_json()["id_token"])
    info = userinfo(browser, response.get_json()["access_token"])

    for name in CHAT_CLAIMS:
        assert name not in claims
        assert name not in info
