"""The OpenAPI document (``idp/openapi.json``) against the app: routes, and real responses.

Every response a test here receives is looked up in the document by path, method and status,
and its headers and JSON body are validated against the documented schemas (JSON Schema
2020-12, ``$ref`` resolved into ``components``). An undocumented path, method, status, media
type or a body that does not match fails the test. Requests that succeed are checked against
the documented request bodies too, so the field names stay true.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

import idp
from idp.ops.limits import RULES
from tests.conftest import FrozenClock
from tests.fakes import FakeGoogle, FakeTwitch, Fault
from tests.helpers import BASE_URL, ORIGIN, path_and_query, query_of, sign_in, visit_provider
from tests.oidc_helpers import (
    POST_LOGOUT_URI,
    AuthRequest,
    RegisteredClient,
    basic_auth,
    code_from,
    redeem,
    register,
    token_request,
)

DOCUMENT_PATH = Path(idp.__file__).parent / "openapi.json"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_PATH = PROJECT_ROOT / "docs" / "reference.md"
GENERATOR_PATH = PROJECT_ROOT / "scripts" / "openapi_to_markdown.py"
DOCUMENT_URI = "urn:idp:openapi"
# Operators' endpoints, deliberately left out of the public description.
UNDOCUMENTED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def load_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return document


def pointer(*parts: str) -> str:
    """A JSON pointer into the document, as a URI fragment of it."""
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    return f"{DOCUMENT_URI}#/" + "/".join(escaped)


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]


@dataclass
class Contract:
    """The document, ready to validate responses against."""

    document: dict[str, Any]
    registry: Registry[Any] = field(init=False)
    patterns: list[tuple[re.Pattern[str], str]] = field(init=False)

    def __post_init__(self) -> None:
        resource: Resource[Any] = Resource.from_contents(
            self.document, default_specification=DRAFT202012
        )
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.patterns = []
        for template in self.document["paths"]:
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            self.patterns.append((re.compile(f"^{regex}$"), template))

    # -- lookups ---------------------------------------------------------------------------------

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a ``$ref`` to ``#/components/...`` (responses, headers, bodies)."""
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def operation(self, path: str, method: str) -> Operation:
        for regex, template in self.patterns:
            if regex.match(path):
                found = self.document["paths"][template].get(method.lower())
                assert found is not None, f"{method} {path}: method not in the document"
                return Operation(template, method.lower(), found)
        raise AssertionError(f"{method} {path}: path not in the document")

    def validate(self, instance: Any, ref: str, what: str) -> None:
        validator = Draft202012Validator(
            {"$ref": ref}, registry=self.registry, format_checker=FormatChecker()
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        # For oneOf/anyOf failures, the closest branch says what is actually wrong.
        shown = [best_match(e.context) if e.context else e for e in errors[:10]]
        assert not errors, f"{what} does not match {ref}:\n" + "\n".join(
            f"- at {list(e.absolute_path)}: {e.message[:300]}" for e in shown
        )

    # -- responses -------------------------------------------------------------------------------

    def check(
        self,
        response: TestResponse,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Any:
        """Validate ``response`` (and the request body, if it succeeded); return its JSON."""
        request = response.request
        op = self.operation(request.path, request.method)
        where = f"{request.method} {request.path} -> {response.status_code}"
        status = str(response.status_code)
        responses = op.spec["responses"]
        assert status in responses, f"{where}: status not documented for {op.template}"
        documented = self.resolve(responses[status])
        base: tuple[str, ...] = ("paths", op.template, op.method, "responses", status)
        if "$ref" in responses[status]:
            base = ("components", "responses", responses[status]["$ref"].rsplit("/", 1)[1])
        self._check_headers(response, documented, where)
        body = self._check_content(response, documented, base, where)
        if response.status_code < 400:
            self._check_request_body(op, json_body, form, where)
        return body

    def _check_headers(
        self, response: TestResponse, documented: dict[str, Any], where: str
    ) -> None:
        for name, header in documented.get("headers", {}).items():
            header = self.resolve(header)
            value = response.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{where}: required header {name} missing"
                continue
            schema = header.get("schema", {})
            typed: Any = value
            if schema.get("type") == "integer":
                assert re.fullmatch(r"[0-9]+", value), f"{where}: {name}: {value!r} is no integer"
                typed = int(value)
            elif schema.get("type") == "number":
                typed = float(value)
            errors = list(Draft202012Validator(schema).iter_errors(typed))
            assert not errors, f"{where}: header {name}: {value!r}: {errors[0].message}"

    def _check_content(
        self, response: TestResponse, documented: dict[str, Any], base: tuple[str, ...], where: str
    ) -> Any:
        content: dict[str, Any] = documented.get("content", {})
        raw = response.get_data()
        if not content:
            assert not raw, f"{where}: a body where none is documented: {raw[:200]!r}"
            return None
        mimetype = response.mimetype
        if not raw and not any(_is_json(m) for m in content):
            return None  # e.g. Authlib's redirects carry no page
        assert mimetype in content, f"{where}: {mimetype} not documented (only {sorted(content)})"
        if not _is_json(mimetype):
            self.validate(raw.decode(), pointer(*base, "content", mimetype, "schema"), where)
            return None
        body = json.loads(raw)
        self.validate(body, pointer(*base, "content", mimetype, "schema"), where)
        return body

    def _check_request_body(
        self, op: Operation, json_body: Any, form: Mapping[str, str] | None, where: str
    ) -> None:
        if json_body is None and form is None:
            return  # nothing to compare (or the test did not say what it sent)
        request_body = op.spec.get("requestBody")
        assert request_body is not None, f"{where}: a body was sent, none is documented"
        media = "application/json" if form is None else "application/x-www-form-urlencoded"
        assert media in request_body["content"], f"{where}: {media} request not documented"
        sent = json_body if form is None else dict(form)
        ref = pointer("paths", op.template, op.method, "requestBody", "content", media, "schema")
        self.validate(sent, ref, f"{where}: the request body")

    def validate_jwt_payload(self, token: str, schema: str) -> dict[str, Any]:
        payload = token.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
        self.validate(claims, f"{DOCUMENT_URI}#/components/schemas/{schema}", schema)
        return claims


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(load_document())


@dataclass
class Api:
    """A browser (or relying party) whose every exchange is checked against the document."""

    client: FlaskClient
    contract: Contract

    def get(self, path: str, expect: int, **kwargs: Any) -> Any:
        return self.answer(self.client.get(path, **kwargs), expect)

    def post_json(
        self, path: str, body: Any, expect: int, *, headers: Mapping[str, str] = ORIGIN
    ) -> Any:
        response = self.client.post(path, json=body, headers=dict(headers))
        return self.answer(response, expect, json_body=body)

    def post_form(
        self, path: str, form: Mapping[str, str], expect: int, **kwargs: Any
    ) -> TestResponse:
        response = self.client.post(path, data=dict(form), **kwargs)
        self.answer(response, expect, form=form)
        return response

    def answer(self, response: TestResponse, expect: int, **sent: Any) -> Any:
        assert response.status_code == expect, (
            f"{response.request.method} {response.request.path}: {response.status_code}, "
            f"expected {expect}: {response.get_data(as_text=True)[:300]}"
        )
        return self.contract.check(response, **sent)

    def raw(self, response: TestResponse, expect: int, **sent: Any) -> TestResponse:
        self.answer(response, expect, **sent)
        return response


@pytest.fixture
def api(app: Flask, contract: Contract) -> Api:
    return Api(app.test_client(), contract)


def signed_in(app: Flask, contract: Contract) -> Api:
    browser = Api(app.test_client(), contract)
    contract.check(sign_in(browser.client, "google"))
    return browser


def cli(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- the document itself ---------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    document = load_document()
    if importlib.util.find_spec("openapi_spec_validator") is not None:
        from openapi_spec_validator import validate

        validate(document)  # the OpenAPI 3.1 meta-schema, and references
    # Without it, the structural checks below still run.
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    operation_ids: list[str] = []
    for template, item in document["paths"].items():
        assert template.startswith("/")
        for method, operation in item.items():
            assert method in METHODS, (template, method)
            operation_ids.append(operation["operationId"])
            assert operation["responses"], (template, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5][0-9][0-9]", status), (template, method, status)
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    schemes = document["components"]["securitySchemes"]
    assert schemes["sessionCookie"] == {
        **schemes["sessionCookie"],
        "type": "apiKey",
        "in": "cookie",
        "name": "better-auth.session_token",
    }
    assert schemes["clientBasic"]["scheme"] == "basic"


def test_every_schema_is_valid_json_schema_2020_12(contract: Contract) -> None:
    for schema in contract.document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def every_ref(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from every_ref(value)
    elif isinstance(node, list):
        for item in node:
            yield from every_ref(item)


def test_every_reference_resolves_and_every_component_is_used(contract: Contract) -> None:
    document = contract.document
    used = set(every_ref(document))
    for ref in used:
        assert ref.startswith("#/components/"), ref
        contract.resolve({"$ref": ref})
    # JWT payloads are not bodies: documented for verifiers, validated below.
    payloads = {"#/components/schemas/SessionJWTClaims", "#/components/schemas/IDTokenClaims"}
    for kind, members in document["components"].items():
        if kind == "securitySchemes":
            continue
        for name in members:
            ref = f"#/components/{kind}/{name}"
            assert ref in used or ref in payloads, f"{ref} is never used"


def rule_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    routes: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in UNDOCUMENTED_PATHS:
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes.add((rule_path(rule.rule), method.lower()))
    documented = {
        (template, method)
        for template, item in load_document()["paths"].items()
        for method in item
        if method in METHODS
    }
    assert routes - documented == set(), "routes missing from idp/openapi.json"
    assert documented - routes == set(), "documented operations the app does not serve"


def test_rate_limited_operations_document_429_and_no_others_do(app: Flask) -> None:
    limited: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in RULES:
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                limited.add((rule_path(rule.rule), method.lower()))
    with_429 = {
        (template, method)
        for template, item in load_document()["paths"].items()
        for method, operation in item.items()
        if "429" in operation["responses"]
    }
    assert with_429 == limited


def test_the_document_is_served_with_a_five_minute_cache(api: Api) -> None:
    response = api.client.get("/api/auth/openapi.json")
    served = api.answer(response, 200)
    assert served == load_document()
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.mimetype == "application/json"


# -- real responses, signed out --------------------------------------------------------------------


def test_signed_out_responses_match_the_document(api: Api, contract: Contract) -> None:
    assert api.get("/api/auth/ok", 200) == {"ok": True}
    assert api.get("/api/auth/get-session", 200) is None
    assert api.get("/api/auth/get-session?disableRefresh=true", 200) is None
    api.get("/api/auth/error?error=state_mismatch", 200)
    api.get("/api/auth/error?error=<script>", 200)
    discovery = api.get("/.well-known/openid-configuration", 200)
    assert discovery["issuer"] == BASE_URL
    jwks = api.client.get("/.well-known/jwks.json")
    assert api.answer(jwks, 200)["keys"]
    api.get("/.well-known/jwks.json", 304, headers={"If-None-Match": jwks.headers["ETag"]})
    assert api.get("/api/auth/jwks", 200) == jwks.get_json()
    api.get("/api/auth/jwks", 304, headers={"If-None-Match": jwks.headers["ETag"]})
    assert api.post_json("/api/auth/sign-out", None, 200) == {"success": True}
    for path in (
        "/api/auth/list-sessions",
        "/api/auth/list-accounts",
        "/api/auth/list-flairs",
        "/api/auth/list-consents",
        "/api/auth/token",
    ):
        assert api.get(path, 401)["code"] == "UNAUTHORIZED"
    for path, body in (
        ("/api/auth/revoke-session", {"token": "x"}),
        ("/api/auth/revoke-sessions", {}),
        ("/api/auth/revoke-other-sessions", {}),
        ("/api/auth/unlink-account", {"accountId": "x"}),
        ("/api/auth/update-user", {"name": "X"}),
        ("/api/auth/revoke-consent", {"clientId": "x"}),
        ("/api/auth/link-social", {"provider": "twitch"}),
    ):
        assert api.post_json(path, body, 401)["code"] == "UNAUTHORIZED"


def test_sign_in_and_its_errors_match_the_document(
    api: Api, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    started = api.post_json(
        "/api/auth/sign-in/social",
        {
            "provider": "google",
            "callbackURL": "/chat",
            "newUserCallbackURL": "/welcome",
            "errorCallbackURL": "/oops",
            "disableRedirect": True,
            "loginHint": "ada@example.com",
            "scopes": ["https://www.googleapis.com/auth/calendar.readonly"],
        },
        200,
    )
    assert started["redirect"] is False
    sign_in_path = "/api/auth/sign-in/social"
    assert api.post_json(sign_in_path, {}, 400)["code"] == "VALIDATION_ERROR"
    assert api.post_json(sign_in_path, {"provider": 1}, 400)["code"] == "VALIDATION_ERROR"
    malformed = api.client.post(
        sign_in_path, data="{", content_type="application/json", headers=ORIGIN
    )
    assert api.answer(malformed, 400)["code"] == "BAD_REQUEST"
    id_token = {"provider": "google", "idToken": {"token": "x"}}
    assert api.post_json(sign_in_path, id_token, 400)["code"] == "ID_TOKEN_NOT_SUPPORTED"
    for body, code in (
        ({"provider": "google", "callbackURL": "https://evil.example/"}, "INVALID_CALLBACK_URL"),
        ({"provider": "google", "errorCallbackURL": "//evil"}, "INVALID_ERROR_CALLBACK_URL"),
        (
            {"provider": "google", "newUserCallbackURL": "javascript:x"},
            "INVALID_NEW_USER_CALLBACK_URL",
        ),
    ):
        assert api.post_json(sign_in_path, body, 403)["code"] == code
    evil = {"Origin": "https://evil.example"}
    assert api.post_json(sign_in_path, {"provider": "google"}, 403, headers=evil)["code"] == (
        "INVALID_ORIGIN"
    )
    assert api.post_json(sign_in_path, {"provider": "nope"}, 404)["code"] == "PROVIDER_NOT_FOUND"
    too_big = api.client.post(
        sign_in_path,
        data=json.dumps({"provider": "google", "pad": "x" * 70_000}),
        content_type="application/json",
        headers=ORIGIN,
    )
    assert api.answer(too_big, 413)["code"] == "PAYLOAD_TOO_LARGE"
    plain = api.client.post(
        sign_in_path, data="provider=google", content_type="text/plain", headers=ORIGIN
    )
    assert api.answer(plain, 415)["code"] == "UNSUPPORTED_MEDIA_TYPE"

    # The callback: a form_post hop, a failure, then a whole sign-in.
    hop = api.raw(
        api.client.post("/api/auth/callback/google", data={"state": "s", "code": "c"}),
        303,
        form={"state": "s", "code": "c"},
    )
    assert hop.headers["Location"].startswith(f"{BASE_URL}/api/auth/callback/google?")
    big_form = api.client.post("/api/auth/callback/google", data={"state": "x" * 70_000})
    assert api.answer(big_form, 413)["code"] == "PAYLOAD_TOO_LARGE"
    failed = api.raw(api.client.get("/api/auth/callback/google"), 302)
    assert query_of(failed.headers["Location"])["error"] == "state_not_found"
    back = visit_provider(api.post_json(sign_in_path, {"provider": "google"}, 200)["url"])
    finished = api.raw(api.client.get(path_and_query(back)), 302)
    assert "better-auth.session_token=" in finished.headers["Set-Cookie"]


def test_an_unreachable_provider_is_answered_as_documented(
    app: Flask, contract: Contract, google: FakeGoogle
) -> None:
    google.fail(Fault.DISCOVERY_DOWN)
    api = Api(app.test_client(), contract)
    down = api.post_json("/api/auth/sign-in/social", {"provider": "google"}, 502)
    assert down["code"] == "PROVIDER_UNAVAILABLE"
    # The provider's pages are a person's: the same failure is a page there, with nothing sent
    # to the client.
    request = AuthRequest(register(app))
    google.fail(Fault.DISCOVERY_DOWN)  # each fault strikes once
    started = api.raw(api.client.get(request.url() + "&provider=google"), 502)
    assert "could not be reached" in started.get_data(as_text=True)
    return_to = request.url()
    google.fail(Fault.DISCOVERY_DOWN)
    chosen = api.client.post("/oauth2/sign-in", data={"return_to": return_to, "provider": "google"})
    assert "could not be reached" in api.raw(chosen, 502).get_data(as_text=True)


def test_the_development_sign_in_page_matches_the_document(api: Api) -> None:
    page = "/api/auth/dev/sign-in"
    assert api.get(page, 400)["code"] == "BAD_REQUEST"
    form = {
        "state": "s",
        "nonce": "n",
        "redirect_uri": f"{BASE_URL}/api/auth/callback/dev",
    }
    api.get(f"{page}?{urlencode({**form, 'login_hint': 'dev@example.com'})}", 200)
    submitted = {**form, "name": "Dev", "email": "dev@example.com", "email_verified": "on"}
    done = api.post_form(page, {**submitted, "action": "sign-in"}, 303, headers=ORIGIN)
    assert "code=" in done.headers["Location"]
    cancelled = api.post_form(page, {**form, "action": "cancel"}, 303, headers=ORIGIN)
    assert "error=access_denied" in cancelled.headers["Location"]
    bad = api.client.post(page, data={**form, "email": "nope"}, headers=ORIGIN)
    assert api.answer(bad, 400)["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("env_overrides", [{"IDP_DEV_CONNECTOR": "false"}])
def test_the_development_sign_in_page_is_404_when_off(api: Api) -> None:
    assert api.get("/api/auth/dev/sign-in", 404)["code"] == "NOT_FOUND"
    gone = api.client.post("/api/auth/dev/sign-in", data={"state": "s"}, headers=ORIGIN)
    assert api.answer(gone, 404)["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "env_overrides",
    [
        {
            "IDP_RATE_LIMITS": "true",
            "IDP_RATE_LIMIT_SIGN_IN": "1/minute",
            "IDP_RATE_LIMIT_CALLBACK": "1/minute",
            "IDP_RATE_LIMIT_TOKEN": "1/minute",
        }
    ],
)
def test_rate_limited_answers_match_the_document(app: Flask, api: Api, google: FakeGoogle) -> None:
    api.post_json("/api/auth/sign-in/social", {"provider": "google"}, 200)
    limited = api.client.post(
        "/api/auth/sign-in/social", json={"provider": "google"}, headers=ORIGIN
    )
    assert api.answer(limited, 429)["code"] == "TOO_MANY_REQUESTS"
    assert int(limited.headers["Retry-After"]) > 0
    form = {"grant_type": "client_credentials", "client_id": "c1", "client_secret": "x"}
    unknown = api.client.post("/oauth2/token", data=form)
    assert api.answer(unknown, 400)["error"] == "invalid_client"
    token_limited = api.client.post("/oauth2/token", data=form)
    assert api.answer(token_limited, 429)["error"] == "temporarily_unavailable"  # OAuth's shape
    assert int(token_limited.headers["Retry-After"]) > 0
    authorize = AuthRequest(register(app)).url()
    api.get(authorize, 302)  # to the chooser
    page = api.raw(api.client.get(authorize), 429)  # a person's browser: a page
    assert "Too many requests" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) > 0


# -- real responses, signed in ---------------------------------------------------------------------


def test_session_endpoints_match_the_document(
    app: Flask, contract: Contract, google: FakeGoogle, clock: FrozenClock
) -> None:
    browser = signed_in(app, contract)
    me = browser.get("/api/auth/get-session", 200)
    assert me["user"]["role"] == "user"
    other = signed_in(app, contract)
    sessions = browser.get("/api/auth/list-sessions", 200)
    assert len(sessions) == 2
    token = browser.get("/api/auth/token", 200)["token"]
    contract.validate_jwt_payload(token, "SessionJWTClaims")

    no_origin = browser.client.post("/api/auth/revoke-other-sessions")
    assert browser.answer(no_origin, 403)["code"] == "MISSING_OR_NULL_ORIGIN"
    assert browser.post_json("/api/auth/revoke-session", {}, 400)["code"] == "VALIDATION_ERROR"
    as_text = browser.client.post(
        "/api/auth/revoke-session", data="token=x", content_type="text/plain", headers=ORIGIN
    )
    assert browser.answer(as_text, 415)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    revoked = browser.post_json("/api/auth/revoke-session", {"token": "unknown"}, 200)
    assert revoked == {"status": True}
    assert browser.post_json("/api/auth/revoke-other-sessions", None, 200) == {"status": True}
    assert other.get("/api/auth/get-session", 200) is None

    clock.advance(24 * 3600 + 1)  # past IDP_SESSION_FRESH_AGE
    stale = browser.get("/api/auth/list-sessions", 403)
    assert stale["code"] == "SESSION_NOT_FRESH"
    assert browser.post_json("/api/auth/unlink-account", {"accountId": "x"}, 403)["code"] == (
        "SESSION_NOT_FRESH"
    )
    assert browser.post_json("/api/auth/revoke-sessions", None, 200) == {"status": True}
    assert browser.get("/api/auth/get-session", 200) is None


def test_account_and_profile_endpoints_match_the_document(
    app: Flask, contract: Contract, google: FakeGoogle, twitch: FakeTwitch
) -> None:
    browser = signed_in(app, contract)
    user_id = browser.get("/api/auth/get-session", 200)["user"]["id"]
    icon = "https://cdn.example/badge.png"
    cli(app, "badges", "create", "vip", "--label", "VIP", "--icon-url", icon, "--color", "#ff0000")
    cli(app, "badges", "create", "founder", "--label", "Founder", "--icon-url", icon)
    cli(app, "users", "grant-badge", user_id, "vip")
    cli(app, "users", "grant-badge", user_id, "founder")
    cli(app, "users", "set-flair", user_id, "🔥 OG", "--color", "#FF0000")
    flairs = browser.get("/api/auth/list-flairs", 200)
    assert len(flairs) == 1

    update = "/api/auth/update-user"
    body = {"name": "Ada", "image": None, "nameColor": "#9146ff", "flair": flairs[0]["id"]}
    assert browser.post_json(update, body, 200) == {"status": True}
    me = browser.get("/api/auth/get-session", 200)["user"]
    assert me["nameColor"] == "#9146FF" and me["flair"] and len(me["badges"]) == 2
    contract.validate_jwt_payload(browser.get("/api/auth/token", 200)["token"], "SessionJWTClaims")
    assert browser.post_json(update, {"flair": None}, 200) == {"status": True}
    assert browser.post_json(update, {}, 400)["code"] == "NO_FIELDS_TO_UPDATE"
    assert browser.post_json(update, {"email": "x@example.com"}, 400)["code"] == (
        "EMAIL_CAN_NOT_BE_UPDATED"
    )
    assert browser.post_json(update, {"nameColor": "#ffffff"}, 400)["code"] == "VALIDATION_ERROR"
    assert browser.post_json(update, {"image": "javascript:x"}, 400)["code"] == "VALIDATION_ERROR"

    accounts = browser.get("/api/auth/list-accounts", 200)
    unlink = "/api/auth/unlink-account"
    assert browser.post_json(unlink, {"accountId": accounts[0]["id"]}, 400)["code"] == (
        "FAILED_TO_UNLINK_LAST_ACCOUNT"
    )
    linked = browser.post_json(
        "/api/auth/link-social", {"provider": "twitch", "callbackURL": "/settings"}, 200
    )
    back = visit_provider(linked["url"])
    browser.raw(browser.client.get(path_and_query(back)), 302)
    accounts = browser.get("/api/auth/list-accounts", 200)
    assert len(accounts) == 2
    assert browser.post_json(unlink, {"accountId": "nope"}, 400)["code"] == "ACCOUNT_NOT_FOUND"
    assert browser.post_json(unlink, {"accountId": accounts[1]["id"]}, 200) == {"status": True}
    assert browser.post_json("/api/auth/revoke-consent", {"clientId": "x"}, 400)["code"] == (
        "CONSENT_NOT_FOUND"
    )


def test_the_openid_provider_matches_the_document(
    app: Flask, contract: Contract, google: FakeGoogle
) -> None:
    rp = register(app)
    anonymous = Api(app.test_client(), contract)
    request = AuthRequest(rp, scope="openid profile email chat offline_access")
    to_chooser = anonymous.raw(anonymous.client.get(request.url()), 302)
    chooser = path_and_query(to_chooser.headers["Location"])
    assert chooser.startswith("/oauth2/sign-in?")
    anonymous.get(chooser, 200)
    anonymous.get("/oauth2/sign-in", 400)
    return_to = query_of(to_chooser.headers["Location"])["return_to"]
    anonymous.post_form("/oauth2/sign-in", {"return_to": return_to, "provider": "google"}, 303)
    anonymous.post_form("/oauth2/sign-in", {"return_to": return_to, "action": "cancel"}, 303)
    anonymous.raw(anonymous.client.post("/oauth2/sign-in", data={"return_to": "/x"}), 400)
    anonymous.raw(anonymous.client.get(request.url() + "&provider=google"), 303)
    anonymous.get("/oauth2/authorize?client_id=unknown", 400)

    browser = signed_in(app, contract)
    authorized = browser.raw(browser.client.get(request.url()), 302)
    tokens = exchange(browser, request, code_from(authorized, request))
    claims = contract.validate_jwt_payload(tokens["id_token"], "IDTokenClaims")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = browser.get("/oauth2/userinfo", 200, headers=bearer)
    assert info["sub"] == claims["sub"] and "badges" in info
    browser.post_form("/oauth2/userinfo", {"access_token": tokens["access_token"]}, 200)
    twice = browser.client.post("/oauth2/userinfo", data={"access_token": "x"}, headers=bearer)
    assert browser.answer(twice, 400)["error"] == "invalid_request"
    assert browser.get("/oauth2/userinfo", 401)["error"] == "invalid_token"
    unknown = {"Authorization": "Bearer nope"}
    assert browser.get("/oauth2/userinfo", 401, headers=unknown)["error"] == "invalid_token"

    form = {"token": tokens["access_token"]}
    creds = basic_auth(rp)
    active = browser.post_form("/oauth2/introspect", form, 200, headers=creds).get_json()
    assert active["active"] is True and active["sub"] == claims["sub"]
    refresh_form = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    refresh = browser.post_form("/oauth2/introspect", refresh_form, 200, headers=creds)
    assert refresh.get_json()["token_type"] == "refresh_token"
    inactive = browser.post_form("/oauth2/introspect", {"token": "nope"}, 200, headers=creds)
    assert inactive.get_json() == {"active": False}
    assert browser.raw(browser.client.post("/oauth2/introspect", data=form), 401)
    huge = browser.client.post("/oauth2/token", data={"grant_type": "x" * 70_000})
    assert browser.answer(huge, 413)["error"] == "invalid_request"
    assert browser.raw(browser.client.post("/oauth2/userinfo"), 401)
    no_token = browser.client.post("/oauth2/introspect", data={}, headers=creds)
    assert browser.answer(no_token, 400)["error"] == "invalid_request"

    refreshed = token_request(
        browser.client, rp, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    new_tokens = browser.answer(
        refreshed,
        200,
        form={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    contract.validate_jwt_payload(new_tokens["id_token"], "IDTokenClaims")
    unknown_refresh = token_request(
        browser.client, rp, grant_type="refresh_token", refresh_token="unknown"
    )
    assert browser.answer(unknown_refresh, 400)["error"] == "invalid_grant"
    unsupported = token_request(browser.client, rp, grant_type="password")
    assert browser.answer(unsupported, 400)["error"] == "unsupported_grant_type"
    wrong = RegisteredClient(rp.client_id, "wrong-secret")
    bad_client = token_request(browser.client, wrong, grant_type="authorization_code")
    assert browser.answer(bad_client, 401)["error"] == "invalid_client"

    revoke_form = {"token": new_tokens["refresh_token"], "token_type_hint": "refresh_token"}
    assert browser.post_form("/oauth2/revoke", revoke_form, 200, headers=creds).get_json() == {}
    assert browser.raw(browser.client.post("/oauth2/revoke", data={"token": "x"}), 401)
    bad_hint = browser.client.post(
        "/oauth2/revoke", data={"token": "x", "token_type_hint": "nope"}, headers=creds
    )
    assert browser.answer(bad_hint, 200) == {}  # an unknown hint is ignored (RFC 7009 2.1)

    # client_credentials: a token without a user
    service = register(app, "--grant-type", "client_credentials", "--scope", "openid")
    machine = token_request(browser.client, service, grant_type="client_credentials")
    machine_tokens = browser.answer(machine, 200, form={"grant_type": "client_credentials"})
    introspected = browser.post_form(
        "/oauth2/introspect",
        {"token": machine_tokens["access_token"]},
        200,
        headers=basic_auth(service),
    ).get_json()
    assert "sub" not in introspected
    foreign = {"token": machine_tokens["access_token"]}
    not_ours = browser.client.post("/oauth2/revoke", data=foreign, headers=creds)
    assert browser.answer(not_ours, 400)["error"] == "invalid_grant"

    # a token without openid is refused at userinfo
    profile_only = AuthRequest(rp, scope="profile")
    code = code_from(browser.raw(browser.client.get(profile_only.url()), 302), profile_only)
    plain = exchange(browser, profile_only, code)
    no_openid = {"Authorization": f"Bearer {plain['access_token']}"}
    assert browser.get("/oauth2/userinfo", 403, headers=no_openid)["error"] == "insufficient_scope"

    # an authorization error goes back to the client
    denied = AuthRequest(rp, extra={"prompt": "none login"})
    error_back = browser.raw(browser.client.get(denied.url()), 302)
    assert query_of(error_back.headers["Location"])["error"] == "invalid_request"
    as_form = AuthRequest(rp)
    posted = browser.post_form("/oauth2/authorize", as_form.params(), 302)
    assert code_from(posted, as_form)

    # logout: confirmation page, then a hinted logout that returns to the client
    browser.get("/oauth2/logout", 200)
    browser.get("/oauth2/logout?id_token_hint=not-a-token", 400)
    hinted = {
        "id_token_hint": new_tokens["id_token"],
        "post_logout_redirect_uri": POST_LOGOUT_URI,
        "state": "abc",
    }
    gone = browser.raw(browser.client.get(f"/oauth2/logout?{urlencode(hinted)}"), 302)
    assert gone.headers["Location"] == f"{POST_LOGOUT_URI}?state=abc"
    again = signed_in(app, contract)
    hinted["id_token_hint"] = exchange(
        again, as_form, code_from(again.raw(again.client.get(as_form.url()), 302), as_form)
    )["id_token"]
    posted_out = again.post_form("/oauth2/logout", hinted, 303)
    assert posted_out.headers["Location"] == f"{POST_LOGOUT_URI}?state=abc"
    browser.post_form("/oauth2/logout", {}, 200)


def test_consent_and_its_withdrawal_match_the_document(
    app: Flask, contract: Contract, google: FakeGoogle
) -> None:
    third_party = register(app, first_party=False)
    browser = signed_in(app, contract)
    request = AuthRequest(third_party, scope="openid chat")
    page = browser.raw(browser.client.get(request.url()), 200)
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found is not None
    bad_csrf = {**request.params(), "csrf": "nope", "decision": "approve"}
    browser.raw(browser.client.post("/oauth2/consent", data=bad_csrf, headers=ORIGIN), 403)
    form = {**request.params(), "csrf": found.group(1), "decision": "approve"}
    approved = browser.post_form("/oauth2/consent", form, 303, headers=ORIGIN)
    assert code_from_303(approved, request)
    consents = browser.get("/api/auth/list-consents", 200)
    assert [c["clientId"] for c in consents] == [third_party.client_id]
    assert browser.post_json(
        "/api/auth/revoke-consent", {"clientId": third_party.client_id}, 200
    ) == {"status": True}
    anonymous = Api(app.test_client(), contract)
    anonymous.post_form("/oauth2/consent", form, 302)


def exchange(browser: Api, request: AuthRequest, code: str) -> Any:
    """Redeem a code (client_secret_basic), checking the form sent as well as the answer."""
    assert request.verifier is not None
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.client.redirect_uri,
        "code_verifier": request.verifier,
    }
    return browser.answer(redeem(browser.client, request, code), 200, form=form)


def code_from_303(response: TestResponse, request: AuthRequest) -> str:
    assert response.status_code == 303
    params = query_of(response.headers["Location"])
    assert params["state"] == request.state
    return params["code"]


# -- the generated reference -----------------------------------------------------------------------


def test_docs_reference_md_is_generated_from_the_document() -> None:
    spec = importlib.util.spec_from_file_location("openapi_to_markdown", GENERATOR_PATH)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    expected: str = generator.render(load_document())
    current = REFERENCE_PATH.read_text(encoding="utf-8") if REFERENCE_PATH.exists() else ""
    assert current == expected, (
        "docs/reference.md is out of date: run `python scripts/openapi_to_markdown.py`"
    )
