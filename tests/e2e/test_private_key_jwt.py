"""``private_key_jwt`` through gunicorn, driven by an unmodified client library (Authlib's
requests client, as the integration guide shows): a service with no secret gets a token,
introspects it and revokes it, signing a new assertion for each request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, RSAKey

from tests.live import LiveServer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_service_with_only_a_key_pair_uses_the_token_endpoints(
    live_server: LiveServer, tmp_path: Path, alg: str
) -> None:
    key = (
        RSAKey.generate_key(2048, parameters={"kid": "svc-1"})
        if alg == "RS256"
        else ECKey.generate_key("P-256", parameters={"kid": "svc-1"})
    )
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    created = live_server.flask(
        "clients",
        "create",
        "--name",
        "Moderation service",
        "--grant-type",
        "client_credentials",
        "--scope",
        "chat",
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        str(jwks),
        "--json",
    )
    assert created.returncode == 0, created.stderr + created.stdout
    client_id = json.loads(created.stdout)["client_id"]
    token_url = f"{live_server.url}/oauth2/token"

    session = OAuth2Session(
        client_id,
        key,
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",  # Authlib's default is Basic
    )
    session.register_client_auth_method(PrivateKeyJWT(token_url, alg=alg))
    token = session.fetch_token(token_url, grant_type="client_credentials", scope="chat")
    assert token["token_type"].lower() == "bearer"

    # Authlib signs a fresh assertion (a new jti) for every request, with the token URL as aud.
    looked = session.introspect_token(
        f"{live_server.url}/oauth2/introspect", token=token["access_token"]
    )
    assert looked.status_code == 200, looked.text
    assert looked.json()["active"] is True
    assert looked.json()["client_id"] == client_id
    revoked = session.revoke_token(f"{live_server.url}/oauth2/revoke", token["access_token"])
    assert revoked.status_code == 200, revoked.text
    gone = session.introspect_token(
        f"{live_server.url}/oauth2/introspect", token=token["access_token"]
    )
    assert gone.json() == {"active": False}
