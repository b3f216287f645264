"""The OpenID Foundation's "Config OP" certification plan, and the ID token and key modules.

``oidcc-config-certification-test-plan`` (conformance-suite, ``OIDCCConfigTestPlan``) has one
module, oidcc-discovery-endpoint-verification; its conditions are asserted here one by one.
With it: the modules about what discovery points at, run by the suite in other plans against
dynamically registered clients (oidcc-idtoken-signature, -rs256, -unsigned, oidcc-userinfo-rs256)
or on their own (oidcc-server-rotate-keys), replayed with a static client, and the JWKS checks
every module makes at configuration (FetchServerKeys, CheckServerKeysIsValid,
ValidateJwksSequence, CheckForKeyIdInServerJWKs, CheckDistinctKeyIdValueInServerJWKs).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import KeySet, KeySetSerialization

from idp.keys import jose
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle
from tests.helpers import BASE_URL, query_of, sign_in
from tests.oidc_helpers import AuthRequest, authorize, code_from, redeem, register

DISCOVERY_PATH = "/.well-known/openid-configuration"
MIN_PUBLISH = 300 + 30  # IDP_JWKS_MAX_AGE + IDP_KEYS_REFRESH_INTERVAL: a next key may sign
# The properties of json-schemas/rfc8414/oauth_authorization_server_metadata.json that an OP like
# ours could publish (CheckForUnexpectedParametersInServerMetadata warns about any other).
KNOWN_METADATA = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "id_token_encryption_alg_values_supported",
    "id_token_encryption_enc_values_supported",
    "userinfo_signing_alg_values_supported",
    "request_object_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "display_values_supported",
    "claim_types_supported",
    "claims_supported",
    "service_documentation",
    "claims_locales_supported",
    "ui_locales_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "op_policy_uri",
    "op_tos_uri",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported",
    "end_session_endpoint",
    "check_session_iframe",
    "frontchannel_logout_supported",
    "frontchannel_logout_session_supported",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
    "prompt_values_supported",
    "authorization_response_iss_parameter_supported",
    "pushed_authorization_request_endpoint",
    "require_pushed_authorization_requests",
    "dpop_signing_alg_values_supported",
}
BOOLEAN_METADATA = {
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "frontchannel_logout_supported",
    "frontchannel_logout_session_supported",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
    "authorization_response_iss_parameter_supported",
    "require_pushed_authorization_requests",
}
# Members only a private or symmetric JWK has (EnsureJwksHasNoPrivateOrSymmetricKeyMaterial)
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
# RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def discovery(client: FlaskClient) -> dict[str, Any]:
    response = client.get(DISCOVERY_PATH)
    assert response.status_code == 200  # EnsureDiscoveryEndpointResponseStatusCodeIs200
    assert response.mimetype == "application/json"  # CheckDiscoveryEndpointReturnedJsonContentType
    document: dict[str, Any] = response.get_json()
    return document


def key_set(jwks: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set(cast(KeySetSerialization, jwks))


def local_path(url: str, issuer: str = BASE_URL) -> str:
    """The path of one of our endpoints, for the test client; it must be under the issuer."""
    assert url.startswith(issuer + "/"), url
    return url[len(issuer) :]


def fetch_jwks(client: FlaskClient, document: dict[str, Any]) -> dict[str, Any]:
    """FetchServerKeys, CheckServerKeysIsValid, ValidateJwksSequence (public keys only, each
    structurally valid and usable), CheckForKeyIdInServerJWKs, CheckDistinctKeyIdValue..."""
    response = client.get(local_path(document["jwks_uri"]))
    assert response.status_code == 200
    assert response.mimetype in ("application/json", "application/jwk-set+json")
    jwks: dict[str, Any] = json.loads(response.get_data(as_text=True))
    assert isinstance(jwks["keys"], list) and jwks["keys"]
    key_set(jwks)  # parses as a JWK set (RFC 7517 5)
    kids = [key.get("kid") for key in jwks["keys"]]
    assert all(isinstance(kid, str) and kid for kid in kids)  # OIDCC-10.1
    assert len(set(kids)) == len(kids)  # RFC 7517 4.5
    for key in jwks["keys"]:
        assert not PRIVATE_JWK_MEMBERS & set(key), key["kid"]
        assert key["use"] == "sig"
        assert key["alg"] in ("RS256", "ES256", "EdDSA")
        if key["kty"] == "RSA":
            n = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
            assert len(n) * 8 >= 2048  # RFC 7518 3.3
            assert key["e"]
        elif key["kty"] == "EC":
            assert key["crv"] == "P-256" and key["x"] and key["y"]
        else:
            assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["x"]
    return jwks


@pytest.fixture
def browser(app: Flask, google: FakeGoogle) -> FlaskClient:
    signed_in = app.test_client()
    sign_in(signed_in, "google")
    return signed_in


def issue_tokens(app: Flask, browser: FlaskClient) -> dict[str, Any]:
    """A static client's code flow, as the suite's happy flow: the token response."""
    client = register(app)
    request = AuthRequest(client, scope="openid")
    code = code_from(authorize(browser, request), request)
    response = redeem(browser, request, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    tokens: dict[str, Any] = response.get_json()
    return tokens


def jose_header(token: str) -> dict[str, Any]:
    encoded = token.split(".")[0]
    header: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    )
    return header


# -- oidcc-discovery-endpoint-verification ---------------------------------------------------------


def test_oidcc_discovery_endpoint_verification(client: FlaskClient) -> None:
    """oidcc-discovery-endpoint-verification (OP-Discovery-Config, OpenID Connect Discovery 3
    and 4, RFC 8414 2): every condition of the module, in its order."""
    document = discovery(client)

    # OIDCCCheckDiscEndpointResponseTypesSupported: at least one OIDC response type
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    # CheckDiscEndpointIssuer: the issuer is where discovery was fetched, less the well-known path
    assert document["issuer"] == BASE_URL
    # CheckDiscEndpointIssuerIsValidUrl (RFC 8414 2): a URL with no query and no fragment
    issuer = urlsplit(document["issuer"])
    assert issuer.scheme in ("http", "https") and issuer.hostname
    assert not issuer.query and not issuer.fragment and "?" not in document["issuer"]
    # ValidateServerMetadataAgainstSchema, CheckForUnexpectedParametersInServerMetadata
    assert set(document) <= KNOWN_METADATA, set(document) - KNOWN_METADATA
    for name, value in document.items():
        if name in BOOLEAN_METADATA:
            assert isinstance(value, bool), name
        elif name.endswith("_supported"):
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), name
        else:
            assert isinstance(value, str) and urlsplit(value).scheme, name
    # CheckDiscEndpointSubjectTypesSupported
    assert "public" in document["subject_types_supported"]
    # OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported: RS256 (and never "none")
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "none" not in document["id_token_signing_alg_values_supported"]
    # OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported: skipped, we sign no userinfo
    assert "userinfo_signing_alg_values_supported" not in document
    # CheckDiscEndpointAuthorizationEndpoint, -TokenEndpoint, -UserinfoEndpoint: they answer
    assert client.get(local_path(document["authorization_endpoint"])).status_code == 400
    assert client.post(local_path(document["token_endpoint"])).status_code in (400, 401)
    assert client.get(local_path(document["userinfo_endpoint"])).status_code == 401
    # CheckDiscEndpointRegistrationEndpoint: skipped, there is none
    assert "registration_endpoint" not in document
    # CheckJwksUri, FetchServerKeys, ValidateJwksSequence
    fetch_jwks(client, document)
    # CheckDiscEndpointRequest(Uri)ParameterSupported (INFO): we take neither
    assert document["request_parameter_supported"] is False
    assert document["request_uri_parameter_supported"] is False
    assert "request_object_signing_alg_values_supported" not in document
    # CheckDiscEndpointClaimsParameterSupported, OIDCCCheckDiscEndpointClaimsSupported
    assert document["claims_parameter_supported"] is True
    assert {"sub", "iss", "aud", "exp", "iat"} <= set(document["claims_supported"])
    # OIDCCCheckDiscEndpointGrantTypesSupported: a non-empty array
    assert "authorization_code" in document["grant_types_supported"]
    # CheckDiscEndpointScopesSupportedContainsOpenId, CheckDiscEndpointScopesSupportedSyntax
    assert "openid" in document["scopes_supported"]
    assert all(SCOPE_TOKEN.match(scope) for scope in document["scopes_supported"])
    # CheckDiscEndpointLocalesSyntax: nothing to check, no locales published
    assert "ui_locales_supported" not in document and "claims_locales_supported" not in document
    # CheckDiscEndpointAllEndpointsAreHttps: every *_endpoint under the issuer (https in the
    # https deployment, below)
    for name, value in document.items():
        if name.endswith("_endpoint"):
            assert value.startswith(BASE_URL + "/"), name
    # EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray: S256 (we refuse plain)
    assert document["code_challenge_methods_supported"] == ["S256"]
    # EnsureServerConfigurationSupportsClientSecretBasic/-Post/-AuthNone (per client variant)
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        document["token_endpoint_auth_methods_supported"]
    )
    # RFC 9207 3: we send iss in every authorization response
    assert document["authorization_response_iss_parameter_supported"] is True


def test_oidcc_discovery_endpoint_verification_all_endpoints_are_https_for_an_https_issuer(
    make_app: Callable[..., Flask],
) -> None:
    """oidcc-discovery-endpoint-verification, CheckDiscEndpointAllEndpointsAreHttps and CheckJwksUri
    for a deployment whose base URL is https (the suite requires https endpoints)."""
    issuer = "https://idp.example"
    app = make_app(IDP_BASE_URL=issuer)
    client = app.test_client()

    response = client.get(DISCOVERY_PATH, base_url=issuer)

    assert response.status_code == 200
    document = response.get_json()
    assert document["issuer"] == issuer
    for name, value in document.items():
        if name.endswith("_endpoint") or name == "jwks_uri":
            assert urlsplit(value).scheme == "https", name
            assert value.startswith(issuer + "/"), name


def test_oidcc_check_jwks_every_key_is_public_with_kid_use_and_alg(client: FlaskClient) -> None:
    """The JWKS checks every server module runs at configuration: a valid JWK set of public
    keys, each with a distinct kid (Core 10.1), use=sig and alg; RSA keys of 2048 bits or more."""
    jwks = fetch_jwks(client, discovery(client))

    assert any(key["alg"] == "RS256" for key in jwks["keys"])


# -- oidcc-idtoken-signature, oidcc-idtoken-rs256, oidcc-idtoken-unsigned --------------------------


def test_oidcc_idtoken_signature_the_id_token_is_rs256_with_a_kid_of_the_jwks(
    app: Flask, browser: FlaskClient
) -> None:
    """oidcc-idtoken-signature (OP-IDToken-Signature, OP-IDToken-kid): without an algorithm
    asked, the ID token is RS256 (EnsureIdTokenSignatureIsRS256), has a kid
    (EnsureIdTokenContainsKid) naming a key of the JWKS, and verifies with it
    (ValidateIdTokenSignature; Core 3.1.3.7, 10.1)."""
    id_token = issue_tokens(app, browser)["id_token"]
    jwks = fetch_jwks(browser, discovery(browser))

    header = jose_header(id_token)

    assert header["alg"] == "RS256"
    assert header["kid"]
    [key] = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    verified, claims = jose.verify_signature(id_token, key_set({"keys": [key]}))
    assert verified["kid"] == header["kid"]
    assert claims["iss"] == discovery(browser)["issuer"]


@pytest.mark.parametrize(
    "env_overrides",
    [{}, {"IDP_SIGNING_ALG": "ES256"}, {"IDP_SIGNING_ALG": "EdDSA"}],
    ids=["default", "ES256-sessions", "EdDSA-sessions"],
)
def test_oidcc_idtoken_rs256_id_tokens_are_rs256_whatever_signs_session_tokens(
    app: Flask, browser: FlaskClient
) -> None:
    """oidcc-idtoken-rs256 (OP-IDToken-RS256): the ID token is signed with RS256 and has a
    kid (CheckIdTokenSignatureAlgorithm, EnsureIdTokenContainsKid), also when our own session
    JWTs use another algorithm: RS256 is the one every RP must accept (Core 15.1)."""
    id_token = issue_tokens(app, browser)["id_token"]
    jwks = fetch_jwks(browser, discovery(browser))

    header, _ = jose.verify_signature(id_token, key_set(jwks))

    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"] if key["alg"] == "RS256"}


def test_oidcc_idtoken_unsigned_is_never_offered_issued_or_accepted(
    app: Flask, browser: FlaskClient
) -> None:
    """oidcc-idtoken-unsigned (OP-IDToken-none): skipped by the suite, as "none" is not in
    id_token_signing_alg_values_supported; our ID tokens are signed, and an unsigned one is not
    accepted where we take ID tokens back (an id_token_hint: Core 3.1.2.1, 3.1.2.6)."""
    document = discovery(browser)
    assert "none" not in document["id_token_signing_alg_values_supported"]
    client = register(app)
    request = AuthRequest(client, scope="openid")
    code = code_from(authorize(browser, request), request)
    id_token = redeem(browser, request, code).get_json()["id_token"]
    assert jose_header(id_token)["alg"] != "none"
    assert id_token.split(".")[2]
    payload = id_token.split(".")[1]
    unsigned = (
        base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        + f".{payload}."
    )

    hinted = AuthRequest(
        client, scope="openid", extra={"prompt": "none", "id_token_hint": unsigned}
    )
    response = authorize(browser, hinted)

    assert response.status_code == 302
    answer = query_of(response.headers["Location"])
    assert answer["error"] == "invalid_request"
    assert "code" not in answer
    assert answer["state"] == hinted.state
    assert answer["iss"] == BASE_URL


# -- oidcc-userinfo-rs256 -------------------------------------------------------------------------


def test_oidcc_userinfo_rs256_does_not_apply_userinfo_is_plain_json(
    app: Flask, browser: FlaskClient
) -> None:
    """oidcc-userinfo-rs256 does not apply: it registers userinfo_signed_response_alg=RS256
    (dynamic clients only) and needs userinfo_signing_alg_values_supported; we publish none and
    answer userinfo as JSON (Core 5.3.2), whatever the client accepts."""
    assert "userinfo_signing_alg_values_supported" not in discovery(browser)
    access_token = issue_tokens(app, browser)["access_token"]

    response = browser.get(
        "/oauth2/userinfo",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/jwt"},
    )

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "sub" in response.get_json()


# -- oidcc-server-rotate-keys ---------------------------------------------------------------------


def test_oidcc_server_rotate_keys_publishes_a_new_key_and_keeps_the_old_one(
    app: Flask, browser: FlaskClient, clock: FrozenClock
) -> None:
    """oidcc-server-rotate-keys: after a rotation the JWKS is valid, has a new signing key with
    a kid of its own (VerifyNewJwksHasNewSigningKey) and still the old ones
    (VerifyNewJwksStillHasOldSigningKey; Core 10.1.1). ID tokens signed before and after verify
    against it, and the new signer was published before it signed."""
    before_token = issue_tokens(app, browser)["id_token"]
    before = fetch_jwks(browser, discovery(browser))
    clock.advance(MIN_PUBLISH)

    rotated = app.test_cli_runner().invoke(args=["keys", "rotate", "--alg", "RS256", "--json"])

    assert rotated.exit_code == 0, rotated.output
    after = fetch_jwks(browser, discovery(browser))
    old = {key["kid"]: key for key in before["keys"]}
    new = {key["kid"]: key for key in after["keys"]}
    added = set(new) - set(old)
    assert added
    assert all(new[kid]["n"] not in {key.get("n") for key in old.values()} for kid in added)
    assert set(old) <= set(new)
    assert all(new[kid] == old[kid] for kid in old)
    after_token = issue_tokens(app, browser)["id_token"]
    keys = key_set(after)
    old_header, _ = jose.verify_signature(before_token, keys)
    new_header, _ = jose.verify_signature(after_token, keys)
    assert new_header["kid"] != old_header["kid"]
    assert new_header["kid"] == json.loads(rotated.output)["active"]
    assert new_header["kid"] in old  # it was in the JWKS before it signed
