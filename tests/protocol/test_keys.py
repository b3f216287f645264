"""Signing keys: JWKS, the session JWT, and every `flask keys` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from idp.config import ConfigError, generate_key_encryption_key
from idp.keys import jose
from idp.models import SigningKey, db
from idp.runtime import get_runtime
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import BASE_URL, KEY_ENCRYPTION_KEY, sign_in

MIN_PUBLISH = 300 + 30  # IDP_JWKS_MAX_AGE + IDP_KEYS_REFRESH_INTERVAL (the defaults)


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["keys", *args])


def keys_json(app: Flask) -> list[dict[str, Any]]:
    result = cli(app, "list", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def kids(app: Flask, state: str, alg: str = "RS256") -> list[str]:
    return [k["kid"] for k in keys_json(app) if k["state"] == state and k["alg"] == alg]


def jwks(client: FlaskClient) -> KeySet:
    return KeySet.import_key_set(client.get("/.well-known/jwks.json").get_json())


def session_token(client: FlaskClient) -> str:
    response = client.get("/api/auth/token")
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.get_json()["token"]
    return token


def verifies(token: str, keys: KeySet) -> bool:
    try:
        jose.verify_signature(token, keys)
    except jose.TokenError:
        return False
    return True


@pytest.fixture
def signed_in(app: Flask, google: FakeGoogle) -> FlaskClient:
    client = app.test_client()
    sign_in(client, "google")
    return client


def test_the_jwks_publishes_the_first_active_and_next_keys(client: FlaskClient, app: Flask) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    published = {k["kid"] for k in response.get_json()["keys"]}
    assert published == set(kids(app, "active") + kids(app, "next"))
    assert len(published) == 2
    assert all("d" not in k for k in response.get_json()["keys"])


def test_both_jwks_paths_serve_the_same_document(client: FlaskClient) -> None:
    assert client.get("/api/auth/jwks").data == client.get("/.well-known/jwks.json").data


def test_the_jwks_answers_304_to_a_matching_etag(client: FlaskClient) -> None:
    first = client.get("/.well-known/jwks.json")
    again = client.get("/.well-known/jwks.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_the_session_jwt_is_signed_by_the_active_key_and_says_who_is_signed_in(
    signed_in: FlaskClient, app: Flask, clock: FrozenClock
) -> None:
    response = signed_in.get("/api/auth/token")
    assert response.headers["Cache-Control"] == "no-store"
    token = response.get_json()["token"]
    header, claims = jose.verify_signature(token, jwks(signed_in))
    me = signed_in.get("/api/auth/get-session").get_json()
    assert header["kid"] == kids(app, "active")[0]
    assert header["alg"] == "RS256"
    assert claims["iss"] == BASE_URL
    assert claims["aud"] == BASE_URL
    assert claims["sub"] == me["user"]["id"]
    assert claims["sid"] == me["session"]["id"]
    assert claims["email"] == me["user"]["email"]
    assert claims["iat"] == int(clock.timestamp())
    assert claims["exp"] - claims["iat"] == 900


def test_the_session_jwt_needs_a_session(client: FlaskClient) -> None:
    response = client.get("/api/auth/token")
    assert response.status_code == 401
    assert response.get_json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("env_overrides", [{"IDP_SIGNING_ALG": "EdDSA"}])
def test_the_signing_algorithm_is_configurable(signed_in: FlaskClient) -> None:
    header, _ = jose.verify_signature(session_token(signed_in), jwks(signed_in))
    assert header["alg"] == "EdDSA"


def test_rotation_refuses_a_next_key_published_too_recently(
    app: Flask, client: FlaskClient
) -> None:
    client.get("/.well-known/jwks.json")  # the first keys
    before = keys_json(app)
    result = cli(app, "rotate")
    assert result.exit_code != 0
    assert "published for less than 330 s" in result.output
    assert keys_json(app) == before


def test_a_token_signed_before_a_rotation_verifies_after_it_and_the_next_token_too(
    signed_in: FlaskClient, app: Flask, clock: FrozenClock
) -> None:
    cached = jwks(signed_in)  # a verifier's cache, taken before the rotation
    old_token = session_token(signed_in)
    old_active, old_next = kids(app, "active"), kids(app, "next")
    clock.advance(MIN_PUBLISH)

    result = cli(app, "rotate")

    assert result.exit_code == 0, result.output
    assert kids(app, "retired") == old_active
    assert kids(app, "active") == old_next
    new_token = session_token(signed_in)
    assert jose.verify_signature(new_token, cached)[0]["kid"] == old_next[0]  # published first
    assert verifies(old_token, jwks(signed_in))
    assert {k.kid for k in jwks(signed_in).keys} >= {old_active[0], old_next[0]}


def test_rotate_with_force_promotes_at_once(app: Flask, client: FlaskClient) -> None:
    client.get("/.well-known/jwks.json")
    next_kid = kids(app, "next")
    assert cli(app, "rotate", "--force").exit_code == 0
    assert kids(app, "active") == next_kid


def test_a_revoked_key_leaves_the_jwks_and_its_tokens_stop_verifying(
    signed_in: FlaskClient, app: Flask
) -> None:
    token = session_token(signed_in)
    compromised, successor = kids(app, "active")[0], kids(app, "next")[0]

    result = cli(app, "revoke", compromised)

    assert result.exit_code == 0, result.output
    assert compromised not in {k.kid for k in jwks(signed_in).keys}
    assert not verifies(token, jwks(signed_in))
    assert kids(app, "active") == [successor]
    assert len(kids(app, "next")) == 1
    assert jose.verify_signature(session_token(signed_in), jwks(signed_in))[0]["kid"] == successor


def test_revoking_an_unknown_or_revoked_key_is_refused(app: Flask, client: FlaskClient) -> None:
    client.get("/.well-known/jwks.json")
    assert "no key with kid" in cli(app, "revoke", "nope").output
    victim = kids(app, "next")[0]
    assert cli(app, "revoke", victim).exit_code == 0
    again = cli(app, "revoke", victim)
    assert again.exit_code != 0
    assert "already revoked" in again.output


def test_prune_removes_retired_keys_only_after_their_last_token_expired(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    client.get("/.well-known/jwks.json")
    retired = kids(app, "active")
    assert cli(app, "rotate", "--force").exit_code == 0
    lifetime = get_runtime(app).settings.max_token_lifetime  # the longest token a key signs
    assert lifetime == 3600  # ID tokens (an hour) outlive session JWTs (15 minutes)
    clock.advance(lifetime + 30 - 1)
    assert json.loads(cli(app, "prune", "--json").output) == {"removed": []}
    clock.advance(1)
    assert json.loads(cli(app, "prune", "--json").output) == {"removed": retired}
    assert kids(app, "retired") == []


def test_generate_adds_a_next_key_for_another_algorithm(app: Flask, client: FlaskClient) -> None:
    result = cli(app, "generate", "--alg", "ES256", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert (created["alg"], created["state"]) == ("ES256", "next")
    assert created["kid"] in {k.kid for k in jwks(client).keys}
    second = cli(app, "generate", "--alg", "ES256")
    assert second.exit_code != 0
    assert "already has a next key" in second.output


def test_bad_command_input_is_refused_with_a_message(app: Flask) -> None:
    result = cli(app, "generate", "--alg", "HS256")
    assert result.exit_code != 0
    assert "Invalid value for '--alg'" in result.output
    assert cli(app, "rotate", "--alg", "ES256").exit_code != 0  # ES256 has no next key yet


def test_the_human_listing_names_every_column(app: Flask, client: FlaskClient) -> None:
    client.get("/.well-known/jwks.json")
    header = cli(app, "list").output.splitlines()[0].split()
    assert header == ["kid", "alg", "state", "created", "activated", "retires"]


def test_new_kek_prints_a_usable_key_encryption_key(app: Flask) -> None:
    result = cli(app, "new-kek")
    assert result.exit_code == 0
    assert len(result.output.strip()) == 43


def test_private_keys_are_stored_encrypted(app: Flask, client: FlaskClient) -> None:
    client.get("/.well-known/jwks.json")
    with app.app_context():
        for row in db.session.scalars(select(SigningKey)):
            assert "PRIVATE KEY" not in row.private_key
            assert '"d"' not in row.public_jwk


def test_rewrap_moves_every_key_to_a_new_key_encryption_key(
    app: Flask, client: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    client.get("/.well-known/jwks.json")
    new = generate_key_encryption_key()
    rotating = make_app(
        IDP_KEY_ENCRYPTION_KEY=new, IDP_PREVIOUS_KEY_ENCRYPTION_KEYS=KEY_ENCRYPTION_KEY
    )
    result = rotating.test_cli_runner().invoke(args=["keys", "rewrap", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rewrapped"] == 2
    make_app(IDP_KEY_ENCRYPTION_KEY=new)  # starts without the old key
    with pytest.raises(ConfigError, match="not configured"):
        make_app(IDP_KEY_ENCRYPTION_KEY=KEY_ENCRYPTION_KEY)


def test_a_tampered_key_stops_the_server_at_start_with_a_clear_error(
    app: Flask, client: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    client.get("/.well-known/jwks.json")
    with app.app_context():
        row = db.session.scalars(select(SigningKey)).first()
        assert row is not None
        tampered = (
            row.private_key[:30]
            + ("A" if row.private_key[30] != "A" else "B")
            + row.private_key[31:]
        )
        db.session.execute(
            update(SigningKey).where(SigningKey.kid == row.kid).values(private_key=tampered)
        )
        db.session.commit()
    with pytest.raises(ConfigError, match="altered"):
        make_app()


def test_another_worker_picks_up_a_rotation_within_the_refresh_interval(
    signed_in: FlaskClient,
    app: Flask,
    make_app: Callable[..., Flask],
    clock: FrozenClock,
    google: FakeGoogle,
) -> None:
    other_worker = make_app(
        IDP_GOOGLE_CLIENT_ID=google.client_id,
        IDP_GOOGLE_CLIENT_SECRET=google.client_secret,
        IDP_GOOGLE_ISSUER=google.issuer,
    )
    other = other_worker.test_client()
    sign_in(other, "google")
    old = jose.verify_signature(session_token(other), jwks(other))[0]["kid"]
    assert cli(app, "rotate", "--force").exit_code == 0
    new = kids(app, "active")[0]

    clock.advance(29)
    assert jose.verify_signature(session_token(other), jwks(signed_in))[0]["kid"] == old
    clock.advance(1)
    assert jose.verify_signature(session_token(other), jwks(signed_in))[0]["kid"] == new


def test_a_new_signing_algorithm_is_published_before_it_signs(
    signed_in: FlaskClient, app: Flask, make_app: Callable[..., Flask], google: FakeGoogle
) -> None:
    session_token(signed_in)  # RS256 keys exist and have signed
    switched = make_app(
        IDP_SIGNING_ALG="EdDSA",
        IDP_GOOGLE_CLIENT_ID=google.client_id,
        IDP_GOOGLE_CLIENT_SECRET=google.client_secret,
        IDP_GOOGLE_ISSUER=google.issuer,
    )
    browser = switched.test_client()
    sign_in(browser, "google")
    header, _ = jose.verify_signature(session_token(browser), jwks(browser))
    assert header["alg"] == "RS256"  # the EdDSA key is only published so far
    assert kids(app, "next", "EdDSA")
    assert kids(app, "active", "EdDSA") == []
    assert cli(switched, "rotate", "--alg", "EdDSA", "--force").exit_code == 0
    header, _ = jose.verify_signature(session_token(browser), jwks(browser))
    assert header["alg"] == "EdDSA"


def test_a_kid_that_starts_with_a_dash_is_a_kid_not_an_option(app: Flask) -> None:
    result = cli(app, "revoke", "-no-such-kid")
    assert result.exit_code == 1, result.output
    assert "no key with kid -no-such-kid" in result.output


def test_a_revoked_key_loses_its_private_half(app: Flask, client: FlaskClient) -> None:
    client.get("/.well-known/jwks.json")
    victim = kids(app, "next")[0]
    assert cli(app, "revoke", victim).exit_code == 0
    with app.app_context():
        row = db.session.get(SigningKey, victim)
        assert row is not None
        assert row.private_key == ""


def test_a_reload_opens_only_the_keys_it_has_not_opened_yet(app: Flask, clock: FrozenClock) -> None:
    """Opening an RSA key costs tens of milliseconds: each refresh interval's reload reuses the
    keys it opened before, and opens a key only when it is new or was sealed again."""
    ring = get_runtime(app).keys
    with app.app_context():
        _, first = ring.signer()
        loaded = ring.snapshot().loaded_at
        clock.advance(30)
        _, again = ring.signer()
        assert ring.snapshot().loaded_at > loaded  # it did reload
        assert again is first
        assert cli(app, "rotate", "--force").exit_code == 0
        clock.advance(30)
        _, rotated = ring.signer()
        assert rotated is not first
        assert rotated.kid == kids(app, "active")[0] != first.kid
