"""``flask badges …`` and ``flask users …``: every command, its effects, and its refusals.

A refused command exits non-zero, says why, and has changed nothing: the ``--json`` listings
and the row counts of every table it could touch are the same before and after.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from idp.keys import jose
from idp.models import (
    Account,
    AuditEvent,
    Badge,
    Flair,
    OAuthConsent,
    OAuthGrant,
    OAuthToken,
    Session,
    User,
    UserBadge,
    db,
)
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeUser
from tests.helpers import BASE_URL, ORIGIN, cookie_value, query_of, session_of, sign_in, signed_in
from tests.oidc_helpers import (
    AuthRequest,
    RegisteredClient,
    authorize,
    basic_auth,
    code_from,
    id_token_claims,
    redeem,
    register,
    token_request,
)

DAY = 86400
ICON = "https://cdn.example/badges/vip.png"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ADA_EMAIL = "ada@example.com"  # the google fixture's user
ADA_NAME = "Ada Lovelace"

COMMANDS = [
    ("badges",),
    ("badges", "create"),
    ("badges", "list"),
    ("badges", "update"),
    ("badges", "delete"),
    ("users",),
    ("users", "list"),
    ("users", "show"),
    ("users", "grant-badge"),
    ("users", "revoke-badge"),
    ("users", "set-flair"),
    ("users", "remove-flair"),
    ("users", "set-name-color"),
    ("users", "promote"),
    ("users", "demote"),
    ("users", "ban"),
    ("users", "unban"),
    ("users", "revoke-sessions"),
    ("users", "delete"),
]


# -- helpers -------------------------------------------------------------------------------------


def cli(app: Flask, *args: str, input: str | None = None) -> Result:
    return app.test_cli_runner().invoke(args=list(args), input=input)


def run(app: Flask, *args: str) -> Any:
    """A command that must succeed, in its --json form; returns what it printed."""
    result = cli(app, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def human(app: Flask, *args: str) -> str:
    """A command that must succeed, in its human form; returns what it printed."""
    result = cli(app, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def create_vip(app: Flask, **options: str) -> Any:
    args = ["badges", "create", "vip", "--label", "VIP", "--icon-url", ICON]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    return run(app, *args)


def user_id_of(browser: FlaskClient) -> str:
    data = session_of(browser)
    assert data is not None
    return str(data["user"]["id"])


@dataclass
class SignedIn:
    browser: FlaskClient
    id: str


@pytest.fixture
def ada(app: Flask, google: FakeGoogle) -> SignedIn:
    browser = signed_in(app)
    return SignedIn(browser, user_id_of(browser))


def grace_signs_in(app: Flask, google: FakeGoogle) -> SignedIn:
    google.user = FakeUser(
        sub="google-sub-grace", email="grace@example.com", email_verified=True, name="Grace Hopper"
    )
    browser = signed_in(app)
    return SignedIn(browser, user_id_of(browser))


def ada_signs_in_again(app: Flask, google: FakeGoogle) -> FlaskClient:
    """The google fixture's user (Ada) at Google again, after someone else signed in."""
    google.user = FakeUser(
        sub="google-sub-1",
        email=ADA_EMAIL,
        email_verified=True,
        name=ADA_NAME,
        picture="https://images.example/ada.png",
    )
    return signed_in(app)


MODELS = (User, Account, Session, Badge, UserBadge, Flair, AuditEvent, OAuthGrant, OAuthToken)


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {
            model.__tablename__: int(
                db.session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in MODELS
        }
        counts["revoked tokens"] = int(
            db.session.scalar(
                select(func.count())
                .select_from(OAuthToken)
                .where(OAuthToken.revoked_at.is_not(None))
            )
            or 0
        )
        return counts


def snapshot(app: Flask, *user_ids: str) -> dict[str, Any]:
    return {
        "badges": run(app, "badges", "list"),
        "users": run(app, "users", "list"),
        "shown": [run(app, "users", "show", user_id) for user_id in user_ids],
        "rows": row_counts(app),
    }


def audit_events(app: Flask, action: str | None = None) -> list[dict[str, Any]]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return [
            {c.name: getattr(e, c.name) for c in AuditEvent.__table__.columns}
            for e in db.session.scalars(query)
        ]


def rows_of_user(app: Flask, user_id: str) -> dict[str, int]:
    with app.app_context():
        counts = {
            "users": int(
                db.session.scalar(select(func.count()).select_from(User).where(User.id == user_id))
                or 0
            )
        }
        for model in (Account, Session, UserBadge, Flair, OAuthGrant, OAuthToken, OAuthConsent):
            counts[model.__tablename__] = int(
                db.session.scalar(
                    select(func.count()).select_from(model).where(model.user_id == user_id)
                )
                or 0
            )
        return counts


@dataclass
class OpenIDTokens:
    client: RegisteredClient
    access_token: str
    refresh_token: str
    id_token: str


def openid_tokens(app: Flask, browser: FlaskClient, scope: str = "openid chat") -> OpenIDTokens:
    client = register(app)
    request = AuthRequest(client, scope=f"{scope} offline_access")
    response = redeem(browser, request, code_from(authorize(browser, request), request))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    return OpenIDTokens(client, body["access_token"], body["refresh_token"], body["id_token"])


def introspect(browser: FlaskClient, tokens: OpenIDTokens, token: str) -> dict[str, Any]:
    response = browser.post(
        "/oauth2/introspect", data={"token": token}, headers=basic_auth(tokens.client)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def userinfo_status(browser: FlaskClient, tokens: OpenIDTokens) -> int:
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    return browser.get("/oauth2/userinfo", headers=headers).status_code


def refresh(browser: FlaskClient, tokens: OpenIDTokens) -> Any:
    response = token_request(
        browser, tokens.client, grant_type="refresh_token", refresh_token=tokens.refresh_token
    )
    return response.status_code, response.get_json()


def assert_openid_tokens_are_dead(browser: FlaskClient, tokens: OpenIDTokens) -> None:
    assert introspect(browser, tokens, tokens.access_token) == {"active": False}
    assert introspect(browser, tokens, tokens.refresh_token) == {"active": False}
    assert userinfo_status(browser, tokens) == 401
    status, body = refresh(browser, tokens)
    assert status == 400
    assert body["error"] == "invalid_grant"


def session_jwt_claims(browser: FlaskClient) -> dict[str, Any]:
    response = browser.get("/api/auth/token")
    assert response.status_code == 200, response.get_data(as_text=True)
    keys = KeySet.import_key_set(browser.get("/.well-known/jwks.json").get_json())
    _, claims = jose.verify_signature(response.get_json()["token"], keys)
    return claims


# -- --help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_explains_itself_with_help_and_exits_zero(
    app: Flask, command: tuple[str, ...]
) -> None:
    result = cli(app, *command, "--help")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage:")
    assert " ".join(command) in result.output.splitlines()[0]


@pytest.mark.parametrize("command", [c for c in COMMANDS if len(c) == 2], ids=" ".join)
def test_every_command_offers_json_output(app: Flask, command: tuple[str, ...]) -> None:
    assert "--json" in cli(app, *command, "--help").output


# -- flask badges --------------------------------------------------------------------------------


def test_badges_create_answers_with_a_sentence(app: Flask) -> None:
    out = human(app, "badges", "create", "vip", "--label", "VIP", "--icon-url", ICON)

    assert out == "Created badge vip."
    assert [b["id"] for b in run(app, "badges", "list")] == ["vip"]


def test_badges_create_in_json_prints_the_badge(app: Flask) -> None:
    created = create_vip(
        app, description="  Very important  ", color="#ff00aa", order="5", label="VIP"
    )

    assert created == {
        "id": "vip",
        "label": "VIP",
        "icon": ICON,
        "description": "Very important",
        "color": "#FF00AA",
        "order": 5,
    }
    assert run(app, "badges", "list") == [created]


def test_badges_list_is_in_display_order_as_a_table_or_json(app: Flask) -> None:
    assert human(app, "badges", "list") == "(none)"
    assert run(app, "badges", "list") == []
    create_vip(app, order="2")
    run(
        app, "badges", "create", "founder", "--label", "Founder", "--icon-url", ICON, "--order", "1"
    )

    table = human(app, "badges", "list").splitlines()

    assert table[0].split() == ["id", "label", "color", "order", "icon"]
    assert [line.split()[0] for line in table[1:]] == ["founder", "vip"]
    assert "-" in table[1].split()  # no colour
    assert [b["id"] for b in run(app, "badges", "list")] == ["founder", "vip"]


def test_badges_update_changes_only_what_is_given(app: Flask) -> None:
    create_vip(app, description="Very important", color="#FF0000", order="2")

    updated = run(app, "badges", "update", "vip", "--label", "V.I.P.", "--order", "7")

    assert updated == {
        "id": "vip",
        "label": "V.I.P.",
        "icon": ICON,
        "description": "Very important",
        "color": "#FF0000",
        "order": 7,
    }
    assert run(app, "badges", "list") == [updated]


def test_badges_update_with_color_none_removes_the_colour(app: Flask) -> None:
    create_vip(app, color="#FF0000")

    out = human(app, "badges", "update", "vip", "--color", "none")

    assert out == "Updated badge vip."
    assert run(app, "badges", "list")[0]["color"] is None


def test_badges_delete_removes_it_from_the_catalogue_and_from_its_holders(
    app: Flask, ada: SignedIn
) -> None:
    create_vip(app)
    run(app, "users", "grant-badge", ada.id, "vip")

    out = human(app, "badges", "delete", "vip")

    assert out == "Deleted badge vip."
    assert run(app, "badges", "list") == []
    assert run(app, "users", "show", ada.id)["badges"] == []
    assert rows_of_user(app, ada.id)["user_badges"] == 0


def test_badges_delete_in_json_says_what_it_deleted(app: Flask) -> None:
    create_vip(app)

    result = cli(app, "badges", "delete", "vip", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == "vip"
    assert run(app, "badges", "list") == []


# -- flask users: reading --------------------------------------------------------------------------


def test_users_list_shows_a_table_or_json(app: Flask, ada: SignedIn, google: FakeGoogle) -> None:
    grace = grace_signs_in(app, google)

    table = human(app, "users", "list").splitlines()
    listed = run(app, "users", "list")

    assert table[0].split() == ["id", "name", "email", "role", "banned", "created"]
    assert [line.split()[0] for line in table[1:]] == [ada.id, grace.id]
    assert ADA_EMAIL in table[1]
    assert [u["id"] for u in listed] == [ada.id, grace.id]
    assert listed[0] == {
        "id": ada.id,
        "name": ADA_NAME,
        "email": ADA_EMAIL,
        "role": "user",
        "banned": False,
        "created": listed[0]["created"],
    }
    assert ISO.match(listed[0]["created"])


@pytest.mark.parametrize("search", ["grace", "GRACE@EXAMPLE", "Hopper", "{grace}"])
def test_users_list_searches_names_emails_and_ids(
    app: Flask, ada: SignedIn, google: FakeGoogle, search: str
) -> None:
    grace = grace_signs_in(app, google)

    found = run(app, "users", "list", "--search", search.format(grace=grace.id))

    assert [u["id"] for u in found] == [grace.id]


def test_users_list_honours_the_limit(app: Flask, ada: SignedIn, google: FakeGoogle) -> None:
    grace_signs_in(app, google)

    assert [u["id"] for u in run(app, "users", "list", "--limit", "1")] == [ada.id]


def test_users_show_finds_a_user_by_id_or_by_email(app: Flask, ada: SignedIn) -> None:
    by_id = run(app, "users", "show", ada.id)
    by_email = run(app, "users", "show", "ADA@example.com")

    assert by_id == by_email
    assert by_id == {
        "id": ada.id,
        "name": ADA_NAME,
        "email": ADA_EMAIL,
        "role": "user",
        "banned": False,
        "created": by_id["created"],
        "emailVerified": True,
        "nameColor": None,
        "badges": [],
        "flair": None,
        "flairs": [],
        "bannedAt": None,
        "banReason": None,
        "accounts": ["google"],
    }


def test_users_show_in_human_form_is_one_line_per_field(app: Flask, ada: SignedIn) -> None:
    create_vip(app)
    run(app, "users", "grant-badge", ada.id, "vip")

    lines = human(app, "users", "show", ada.id).splitlines()

    fields = {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in lines}
    assert fields["id"] == ada.id
    assert fields["email"] == ADA_EMAIL
    assert fields["role"] == "user"
    assert json.loads(fields["badges"])[0]["id"] == "vip"
    assert json.loads(fields["accounts"]) == ["google"]


# -- flask users: presentation -------------------------------------------------------------------


def test_grant_badge_answers_with_a_sentence_or_the_user(
    app: Flask, ada: SignedIn, clock: FrozenClock
) -> None:
    create_vip(app)

    assert human(app, "users", "grant-badge", ada.id, "vip") == f"Granted vip to {ada.id}."
    shown = run(app, "users", "grant-badge", ada.id, "vip", "--days", "1")

    assert [b["id"] for b in shown["badges"]] == ["vip"]
    assert human(app, "users", "grant-badge", ada.id, "vip", "--days", "1") == (
        f"Granted vip to {ada.id} until 2026-11-27T12:00:00.000Z."
    )
    assert rows_of_user(app, ada.id)["user_badges"] == 1


def test_granting_again_without_days_makes_a_temporary_badge_permanent(
    app: Flask, ada: SignedIn, clock: FrozenClock
) -> None:
    create_vip(app)
    run(app, "users", "grant-badge", ada.id, "vip", "--days", "1")
    run(app, "users", "grant-badge", ada.id, "vip")

    clock.advance(2 * DAY)

    assert [b["id"] for b in session_of(ada.browser)["user"]["badges"]] == ["vip"]


def test_revoke_badge_answers_with_a_sentence_or_the_user(app: Flask, ada: SignedIn) -> None:
    create_vip(app)
    run(app, "users", "grant-badge", ada.id, "vip")

    assert human(app, "users", "revoke-badge", ada.id, "vip") == f"Revoked vip from {ada.id}."
    run(app, "users", "grant-badge", ada.id, "vip")
    shown = run(app, "users", "revoke-badge", ada.id, "vip")

    assert shown["badges"] == []
    assert session_of(ada.browser)["user"]["badges"] == []


def test_set_flair_answers_with_a_sentence_or_the_user(app: Flask, ada: SignedIn) -> None:
    out = human(app, "users", "set-flair", ada.id, "👩\u200d💻")
    shown = run(app, "users", "set-flair", ada.id, "🔥 OG", "--color", "#ff0000")

    assert out == f"Flair of {ada.id} updated."
    assert shown["flair"]["text"] == "🔥 OG"
    assert shown["flair"]["color"] == "#FF0000"
    assert session_of(ada.browser)["user"]["flair"] == shown["flair"]
    assert [f["text"] for f in ada.browser.get("/api/auth/list-flairs").get_json()] == [
        "👩\u200d💻",
        "🔥 OG",
    ]


def test_set_flair_clear_shows_no_flair(app: Flask, ada: SignedIn) -> None:
    run(app, "users", "set-flair", ada.id, "🔥 OG")

    shown = run(app, "users", "set-flair", ada.id, "--clear")

    assert shown["flair"] is None
    assert session_of(ada.browser)["user"]["flair"] is None
    assert human(app, "users", "set-flair", ada.id, "--clear") == f"Flair of {ada.id} updated."


def test_remove_flair_takes_it_out_of_the_list_and_off_display(app: Flask, ada: SignedIn) -> None:
    kept = run(app, "users", "set-flair", ada.id, "👩\u200d💻")["flair"]
    shown = run(app, "users", "set-flair", ada.id, "🔥 OG")["flair"]

    out = human(app, "users", "remove-flair", ada.id, shown["id"])
    assert out == f"Removed flair {shown['id']} from {ada.id}."
    assert session_of(ada.browser)["user"]["flair"] is None
    assert ada.browser.get("/api/auth/list-flairs").get_json() == [kept]
    picked = ada.browser.post("/api/auth/update-user", json={"flair": shown["id"]}, headers=ORIGIN)
    assert picked.status_code == 400  # no longer theirs to pick

    run(app, "users", "set-flair", ada.id, "🔥 OG again")
    after = run(app, "users", "remove-flair", ada.id, kept["id"])  # not the one showing
    assert after["flair"]["text"] == "🔥 OG again"
    assert [f["text"] for f in after["flairs"]] == ["🔥 OG again"]
    events = run(app, "audit", "list", "--action", "user.flair_removed")
    assert {(e["subject"], e["details"]["flair"]) for e in events} == {
        (ada.id, kept["id"]),
        (ada.id, shown["id"]),
    }


def test_remove_flair_refuses_a_flair_that_is_not_the_users(
    app: Flask, ada: SignedIn, google: FakeGoogle
) -> None:
    flair = run(app, "users", "set-flair", ada.id, "🔥 OG")["flair"]
    other = grace_signs_in(app, google)
    refused = cli(app, "users", "remove-flair", other.id, flair["id"])
    assert refused.exit_code != 0
    assert f"has no flair {flair['id']}" in refused.output
    assert session_of(ada.browser)["user"]["flair"] == flair


def test_set_name_color_answers_with_a_sentence_or_the_user(app: Flask, ada: SignedIn) -> None:
    out = human(app, "users", "set-name-color", ada.id, "#9146ff")
    assert out == f"Name colour of {ada.id} is now #9146FF."
    assert session_of(ada.browser)["user"]["nameColor"] == "#9146FF"

    shown = run(app, "users", "set-name-color", ada.id, "none")

    assert shown["nameColor"] is None
    assert session_of(ada.browser)["user"]["nameColor"] is None
    assert (
        human(app, "users", "set-name-color", ada.id, "none")
        == f"Name colour of {ada.id} is now the default."
    )


# -- flask users: roles --------------------------------------------------------------------------


def test_promote_makes_an_admin_in_get_session_the_session_jwt_and_the_id_token(
    app: Flask, ada: SignedIn
) -> None:
    out = human(app, "users", "promote", ada.id)

    assert out == f"{ada.id} is now admin."
    assert session_of(ada.browser)["user"]["role"] == "admin"
    assert session_jwt_claims(ada.browser)["role"] == "admin"
    tokens = openid_tokens(app, ada.browser)
    assert id_token_claims(ada.browser, tokens.id_token)["role"] == "admin"
    assert [e["subject"] for e in audit_events(app, "user.role_set")] == [ada.id]


def test_demote_makes_a_regular_user_again(app: Flask, ada: SignedIn) -> None:
    assert run(app, "users", "promote", ada.id)["role"] == "admin"

    shown = run(app, "users", "demote", ada.id)

    assert shown["role"] == "user"
    assert session_of(ada.browser)["user"]["role"] == "user"
    assert session_jwt_claims(ada.browser)["role"] == "user"
    assert human(app, "users", "demote", ada.id) == f"{ada.id} is now user."


# -- flask users: ban, unban, revoke-sessions ----------------------------------------------------


def test_ban_signs_the_user_out_refuses_sign_in_and_kills_their_openid_tokens(
    app: Flask, ada: SignedIn, google: FakeGoogle
) -> None:
    second_browser = signed_in(app)
    tokens = openid_tokens(app, ada.browser)
    pending = AuthRequest(tokens.client, scope="openid chat")
    pending_code = code_from(authorize(ada.browser, pending), pending)

    out = human(app, "users", "ban", ada.id, "--reason", "spam in #general")

    assert out == f"Banned {ada.id}; all sessions and tokens revoked."
    assert session_of(ada.browser) is None
    assert session_of(second_browser) is None
    assert rows_of_user(app, ada.id)["sessions"] == 0
    assert_openid_tokens_are_dead(ada.browser, tokens)
    redeemed = redeem(ada.browser, pending, pending_code)
    assert redeemed.status_code == 400
    assert redeemed.get_json()["error"] == "invalid_grant"

    browser = app.test_client()
    refused = sign_in(browser, "google")
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith(f"{BASE_URL}/api/auth/error?")
    assert query_of(refused.headers["Location"])["error"] == "account_suspended"
    assert cookie_value(browser) is None
    assert session_of(browser) is None
    assert rows_of_user(app, ada.id)["sessions"] == 0


def test_ban_in_json_shows_the_ban_and_the_audit_trail_keeps_no_reason(
    app: Flask, ada: SignedIn, clock: FrozenClock
) -> None:
    shown = run(app, "users", "ban", ada.id, "--reason", "spam in #general", "--actor", "mod-7")

    assert shown["banned"] is True
    assert shown["bannedAt"] == "2026-11-26T12:00:00.000Z"
    assert shown["banReason"] == "spam in #general"
    assert run(app, "users", "list")[0]["banned"] is True
    (event,) = audit_events(app, "user.banned")
    assert (event["actor"], event["subject"]) == ("mod-7", ada.id)
    assert "spam" not in json.dumps(event, default=str)


def test_a_banned_user_is_refused_even_after_their_sessions_would_have_expired(
    app: Flask, ada: SignedIn, clock: FrozenClock
) -> None:
    run(app, "users", "ban", ada.id)
    clock.advance(30 * DAY)

    refused = sign_in(app.test_client(), "google")

    assert query_of(refused.headers["Location"])["error"] == "account_suspended"


def test_unban_lets_the_user_sign_in_again_to_the_same_account(
    app: Flask, ada: SignedIn, google: FakeGoogle
) -> None:
    tokens = openid_tokens(app, ada.browser)
    run(app, "users", "ban", ada.id, "--reason", "spam")

    shown = run(app, "users", "unban", ada.id)

    assert (shown["banned"], shown["bannedAt"], shown["banReason"]) == (False, None, None)
    browser = signed_in(app)
    assert user_id_of(browser) == ada.id
    assert_openid_tokens_are_dead(browser, tokens)  # unbanning does not revive old tokens
    fresh = openid_tokens(app, browser)
    assert introspect(browser, fresh, fresh.access_token)["active"] is True
    assert human(app, "users", "unban", ada.id) == f"Unbanned {ada.id}."
    assert len(audit_events(app, "user.banned")) == 1
    assert [e["subject"] for e in audit_events(app, "user.unbanned")] == [ada.id] * 2


def test_revoke_sessions_signs_the_user_out_everywhere_and_kills_their_openid_tokens(
    app: Flask, ada: SignedIn, google: FakeGoogle
) -> None:
    second_browser = signed_in(app)
    tokens = openid_tokens(app, ada.browser)
    grace = grace_signs_in(app, google)

    answer = run(app, "users", "revoke-sessions", ada.id)

    assert answer == {"id": ada.id, "sessions": 2}
    assert session_of(ada.browser) is None
    assert session_of(second_browser) is None
    assert_openid_tokens_are_dead(ada.browser, tokens)
    assert session_of(grace.browser)["user"]["id"] == grace.id  # nobody else is signed out
    assert run(app, "users", "show", ada.id)["banned"] is False
    again = ada_signs_in_again(app, google)
    assert user_id_of(again) == ada.id
    assert human(app, "users", "revoke-sessions", ada.id) == (
        f"Revoked 1 session(s) and every token of {ada.id}."
    )
    assert [e["subject"] for e in audit_events(app, "user.sessions_revoked")] == [ada.id] * 2


# -- flask users delete --------------------------------------------------------------------------


def test_delete_erases_the_user_and_everything_theirs_and_keeps_an_anonymous_audit_record(
    app: Flask, ada: SignedIn, google: FakeGoogle
) -> None:
    create_vip(app)
    run(app, "users", "grant-badge", ada.id, "vip")
    run(app, "users", "set-flair", ada.id, "Analytical Engine")
    run(app, "users", "set-name-color", ada.id, "#9146FF")
    run(app, "users", "ban", ada.id, "--reason", "Ada Lovelace <ada@example.com> spammed")
    run(app, "users", "unban", ada.id)
    ada.browser = signed_in(app)
    tokens = openid_tokens(app, ada.browser)
    assert all(rows_of_user(app, ada.id)[t] for t in ("users", "accounts", "sessions"))

    out = human(app, "users", "delete", ada.id, "--yes")

    assert out == f"Deleted {ada.id}."
    assert rows_of_user(app, ada.id) == {
        "users": 0,
        "accounts": 0,
        "sessions": 0,
        "user_badges": 0,
        "flairs": 0,
        "oauth_grants": 0,
        "oauth_tokens": 0,
        "oauth_consents": 0,
    }
    assert row_counts(app)["accounts"] == 0
    assert [b["id"] for b in run(app, "badges", "list")] == ["vip"]  # the catalogue stays
    assert session_of(ada.browser) is None
    assert introspect(ada.browser, tokens, tokens.access_token) == {"active": False}
    assert cli(app, "users", "show", ada.id).exit_code != 0

    (deleted,) = audit_events(app, "user.deleted")
    assert deleted["subject"] == ada.id
    assert deleted["actor"] == "cli"
    personal = (ADA_EMAIL, ADA_NAME, "Lovelace", "example.com", "Analytical Engine", "spammed")
    for event in audit_events(app):
        for column, value in event.items():
            for secret in personal:
                assert secret not in str(value), (event["action"], column)


def test_after_deletion_signing_in_again_creates_a_new_user(
    app: Flask, ada: SignedIn, google: FakeGoogle
) -> None:
    create_vip(app)
    run(app, "users", "grant-badge", ada.id, "vip")
    run(app, "users", "set-flair", ada.id, "🔥 OG")
    run(app, "users", "promote", ada.id)
    human(app, "users", "delete", ada.id, "--yes")

    browser = signed_in(app)
    user = session_of(browser)["user"]

    assert user["id"] != ada.id
    assert user["email"] == ADA_EMAIL
    assert (user["role"], user["badges"], user["flair"], user["nameColor"]) == (
        "user",
        [],
        None,
        None,
    )
    assert browser.get("/api/auth/list-flairs").get_json() == []


def test_delete_by_email_works_like_delete_by_id(app: Flask, ada: SignedIn) -> None:
    assert human(app, "users", "delete", ADA_EMAIL, "--yes") == f"Deleted {ada.id}."
    assert rows_of_user(app, ada.id)["users"] == 0


def test_delete_asks_first_and_answering_no_changes_nothing(app: Flask, ada: SignedIn) -> None:
    before = snapshot(app, ada.id)

    result = cli(app, "users", "delete", ada.id, input="n\n")

    assert result.exit_code != 0
    assert ADA_EMAIL in result.output  # the question names who would be erased
    assert "Aborted" in result.output
    assert snapshot(app, ada.id) == before
    assert session_of(ada.browser)["user"]["id"] == ada.id


def test_delete_asks_first_and_answering_yes_erases(app: Flask, ada: SignedIn) -> None:
    result = cli(app, "users", "delete", ada.id, input="y\n")

    assert result.exit_code == 0, result.output
    assert rows_of_user(app, ada.id)["users"] == 0


def test_users_delete_in_json_says_what_it_deleted(app: Flask, ada: SignedIn) -> None:
    result = cli(app, "users", "delete", ada.id, "--yes", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == ada.id
    assert rows_of_user(app, ada.id)["users"] == 0


# -- refusals --------------------------------------------------------------------------------------

NOBODY = "no-such-user"
BAD_INPUT = [
    (("users", "show", NOBODY), f"no user {NOBODY}"),
    (("users", "show", "nobody@example.com"), "no user nobody@example.com"),
    (("users", "grant-badge", NOBODY, "vip"), f"no user {NOBODY}"),
    (("users", "grant-badge", "{ada}", "no-such-badge"), "no badge no-such-badge"),
    (("users", "grant-badge", "{ada}", "vip", "--days", "0"), "--days"),
    (("users", "revoke-badge", NOBODY, "vip"), f"no user {NOBODY}"),
    (("users", "revoke-badge", "{ada}", "founder"), "does not hold founder"),
    (("users", "revoke-badge", "{ada}", "no-such-badge"), "does not hold no-such-badge"),
    (("users", "set-flair", NOBODY, "OG"), f"no user {NOBODY}"),
    (("users", "set-flair", "{ada}", "x" * 33), "at most 32 characters"),
    (("users", "set-flair", "{ada}", "O\u202eG"), "invisible formatting characters"),
    (("users", "set-flair", "{ada}", "O\u200bG"), "invisible formatting characters"),
    (("users", "set-flair", "{ada}", "O\x07G"), "control characters"),
    (("users", "set-flair", "{ada}", "   "), "some text or an emoji"),
    (("users", "set-flair", "{ada}"), "give the flair's TEXT"),
    (("users", "set-flair", "{ada}", "OG", "--color", "#FFF"), "#RRGGBB"),
    (("users", "set-flair", "{ada}", "OG", "--color", "red"), "#RRGGBB"),
    (("users", "set-name-color", NOBODY, "#FF0000"), f"no user {NOBODY}"),
    (("users", "set-name-color", "{ada}", "red"), "#RRGGBB"),
    (("users", "set-name-color", "{ada}", "#GGGGGG"), "#RRGGBB"),
    (("users", "set-name-color", "{ada}", "#FFFFFF"), "light chat theme"),
    (("users", "set-name-color", "{ada}", "#0000FF"), "dark chat theme"),
    (("users", "promote", NOBODY), f"no user {NOBODY}"),
    (("users", "demote", NOBODY), f"no user {NOBODY}"),
    (("users", "ban", NOBODY), f"no user {NOBODY}"),
    (("users", "unban", NOBODY), f"no user {NOBODY}"),
    (("users", "revoke-sessions", NOBODY), f"no user {NOBODY}"),
    (("users", "delete", NOBODY, "--yes"), f"no user {NOBODY}"),
    (("users", "list", "--limit", "0"), "--limit"),
    (("badges", "create", "Bad Slug", "--label", "X", "--icon-url", ICON), "slug"),
    (("badges", "create", "bad_slug", "--label", "X", "--icon-url", ICON), "slug"),
    (("badges", "create", "--label", "X", "--icon-url", ICON, "--", "-vip"), "slug"),
    (
        ("badges", "create", "new", "--label", "X", "--icon-url", "http://cdn.example/x.png"),
        "https",
    ),
    (("badges", "create", "new", "--label", "X", "--icon-url", "javascript:alert(1)"), "https"),
    (("badges", "create", "new", "--label", "X", "--icon-url", "//cdn.example/x.png"), "https"),
    (("badges", "create", "vip", "--label", "VIP again", "--icon-url", ICON), "already exists"),
    (("badges", "create", "new", "--label", "   ", "--icon-url", ICON), "label"),
    (("badges", "create", "new", "--label", "x" * 65, "--icon-url", ICON), "label"),
    (("badges", "create", "new", "--label", "X", "--icon-url", ICON, "--color", "red"), "#RRGGBB"),
    (("badges", "create", "new", "--label", "X"), "--icon-url"),
    (("badges", "create", "new", "--label", "X", "--icon-url", ICON, "--order", "x"), "--order"),
    (("badges", "update", "no-such-badge", "--label", "X"), "no badge no-such-badge"),
    (("badges", "update", "vip", "--color", "#12345"), "#RRGGBB"),
    (("badges", "update", "vip", "--icon-url", "http://cdn.example/x.png"), "https"),
    (("badges", "update", "vip", "--label", ""), "label"),
    (("badges", "delete", "no-such-badge"), "no badge no-such-badge"),
]


@pytest.fixture
def populated(app: Flask, ada: SignedIn) -> SignedIn:
    """Ada holds vip, has a flair and a colour; founder exists and nobody holds it."""
    create_vip(app, color="#FF0000", order="1")
    run(app, "badges", "create", "founder", "--label", "Founder", "--icon-url", ICON)
    run(app, "users", "grant-badge", ada.id, "vip")
    run(app, "users", "set-flair", ada.id, "🔥 OG", "--color", "#FF0000")
    run(app, "users", "set-name-color", ada.id, "#9146FF")
    return ada


@pytest.mark.parametrize(
    ("args", "message"), BAD_INPUT, ids=[" ".join(a)[:60] for a, _ in BAD_INPUT]
)
def test_bad_input_exits_non_zero_with_a_clear_message_and_changes_nothing(
    app: Flask, populated: SignedIn, args: tuple[str, ...], message: str
) -> None:
    before = snapshot(app, populated.id)
    session_before = session_of(populated.browser)

    result = cli(app, *(a.format(ada=populated.id) for a in args))

    assert result.exit_code != 0, result.output
    assert "Error" in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert snapshot(app, populated.id) == before
    assert session_of(populated.browser) == session_before


@pytest.mark.parametrize(
    "args",
    [
        ("users", "show", NOBODY),
        ("users", "set-name-color", "{ada}", "#FFFFFF"),
        ("users", "set-flair", "{ada}", "x" * 33),
        ("badges", "create", "vip", "--label", "VIP", "--icon-url", ICON),
        ("badges", "update", "vip", "--color", "red"),
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_a_refusal_in_json_form_prints_nothing_on_standard_output(
    app: Flask, populated: SignedIn, args: tuple[str, ...]
) -> None:
    before = snapshot(app, populated.id)

    result = cli(app, *(a.format(ada=populated.id) for a in args), "--json")

    assert result.exit_code != 0
    assert result.stdout == ""
    assert "Error" in result.stderr
    assert snapshot(app, populated.id) == before


def test_an_empty_name_colour_is_refused_not_taken_for_none(
    app: Flask, populated: SignedIn
) -> None:
    before = snapshot(app, populated.id)

    result = cli(app, "users", "set-name-color", populated.id, "")

    assert result.exit_code != 0, result.output
    assert "#RRGGBB" in result.output
    assert snapshot(app, populated.id) == before
    assert session_of(populated.browser)["user"]["nameColor"] == "#9146FF"


def test_update_user_never_reaches_what_only_admins_set(app: Flask, populated: SignedIn) -> None:
    before = run(app, "users", "show", populated.id)

    response = populated.browser.post(
        "/api/auth/update-user",
        json={"name": ADA_NAME, "role": "admin", "banned": True, "badges": []},
        headers=ORIGIN,
    )

    assert response.status_code == 200
    after = run(app, "users", "show", populated.id)
    assert (after["role"], after["banned"], after["badges"]) == (
        before["role"],
        before["banned"],
        before["badges"],
    )
