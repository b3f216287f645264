"""Loopback fakes of the Google and Twitch OpenID Connect providers.

Each fake is a small WSGI server on 127.0.0.1 (ephemeral port, daemon thread)
that implements the authorization-code flow the way the real provider does:
discovery, authorize (auto-consent or an HTML consent page), token, userinfo,
JWKS and revocation; Twitch also has ``/oauth2/validate``.  Faults can be armed
with :meth:`FakeProvider.fail` to reproduce the failures a relying party must
survive.  All time comes from the injected ``clock``.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import KeySetSerialization, RSAKey
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "OTHER_CLIENT_ID",
    "OTHER_ISSUER",
    "FakeGoogle",
    "FakeProvider",
    "FakeTwitch",
    "FakeUser",
    "Fault",
    "RecordedBearerRequest",
    "RecordedTokenRequest",
    "parse_consent_form",
    "pkce_pair",
]

#: Issuer used by WRONG_ISS (``iss`` claim) and ISS_PARAM_MISMATCH (``iss`` parameter).
OTHER_ISSUER = "https://issuer.attacker.example"
#: Client id used by WRONG_AUD / WRONG_AZP.
OTHER_CLIENT_ID = "other-client.apps.example"
CODE_TTL = 600
ID_TOKEN_TTL = 3600
_FORM = "application/x-www-form-urlencoded"
_Form = Mapping[str, str]
_Err = Response | None  # an error response, or None when all is well
_GOOGLE_SCOPE_URLS = (
    ("email", "https://www.googleapis.com/auth/userinfo.email"),
    ("profile", "https://www.googleapis.com/auth/userinfo.profile"),
)


@dataclass
class FakeUser:
    sub: str
    email: str | None = None
    email_verified: bool = True
    name: str | None = None
    picture: str | None = None
    hd: str | None = None  # Google hosted domain claim
    preferred_username: str | None = None  # Twitch login name


class Fault(enum.StrEnum):
    ACCESS_DENIED = "access_denied"
    INVALID_GRANT = "invalid_grant"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KID = "unknown_kid"
    WRONG_NONCE = "wrong_nonce"
    WRONG_ISS = "wrong_iss"
    WRONG_AUD = "wrong_aud"
    WRONG_AZP = "wrong_azp"
    EXPIRED_ID_TOKEN = "expired_id_token"
    LEGACY_ISS = "legacy_iss"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    MALFORMED_JSON = "malformed_json"
    DISCOVERY_DOWN = "discovery_down"
    ISS_PARAM_MISMATCH = "iss_param_mismatch"


_ID_TOKEN_FAULTS = (
    Fault.BAD_SIGNATURE,
    Fault.UNKNOWN_KID,
    Fault.WRONG_NONCE,
    Fault.WRONG_ISS,
    Fault.WRONG_AUD,
    Fault.WRONG_AZP,
    Fault.EXPIRED_ID_TOKEN,
    Fault.LEGACY_ISS,
)


@dataclass(frozen=True)
class RecordedTokenRequest:
    """One request to the token endpoint, as received."""

    form: dict[str, str]
    basic_auth: tuple[str, str] | None  # (client_id, client_secret) from "Authorization: Basic"
    headers: dict[str, str]

    @property
    def used_basic_auth(self) -> bool:
        return self.basic_auth is not None

    @property
    def used_post_auth(self) -> bool:
        return "client_secret" in self.form


@dataclass(frozen=True)
class RecordedBearerRequest:
    """One request to userinfo (or Twitch's validate): the token it presented."""

    method: str
    authorization: str | None  # raw Authorization header
    token: str | None  # token parsed from it (None if absent / wrong scheme)


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    claims_request: Mapping[str, Any]
    params: Mapping[str, str]
    user: FakeUser
    auth_time: int


@dataclass
class _Code:
    grant: _Grant
    expires_at: float
    used: bool = False
    tokens: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Token:
    grant: _Grant
    expires_at: float


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def pkce_pair() -> tuple[str, str]:
    """Return ``(code_verifier, S256 code_challenge)``."""
    verifier = _b64url(secrets.token_bytes(32))
    return verifier, _s256(verifier)


def _at_hash(access_token: str) -> str:
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def _json(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, mimetype="application/json", headers=dict(headers or {})
    )


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ("", "")
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return ("", "")
    return unquote_plus(client_id), unquote_plus(secret)


def _auth_token(header: str | None, schemes: Iterable[str]) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() in schemes and value.strip():
        return value.strip()
    return None


def _with_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


class _ConsentFormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a.get("name", "")] = a.get("value", "")
        elif tag == "button" and "id" in a:
            self.buttons[a["id"]] = (a.get("name", ""), a.get("value", ""))


def parse_consent_form(page: str, button: str = "allow") -> tuple[str, dict[str, str]]:
    """From an interactive consent page, return ``(form action, form fields)``
    that clicking the button with id ``button`` ("allow" or "cancel") submits
    (POST, form-encoded; the action is a path on the fake's ``base_url``)."""
    parser = _ConsentFormParser()
    parser.feed(page)
    name, value = parser.buttons[button]
    return parser.action, {**parser.fields, name: value}


class _QuietHandler(WSGIRequestHandler):
    # One request per connection, so that stop() really stops serving.
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeProvider(ABC):
    """Shared machinery of the fakes; use :class:`FakeGoogle` or :class:`FakeTwitch`."""

    display_name: ClassVar[str] = "Provider"
    issuer_path: ClassVar[str] = ""
    discovery_path: ClassVar[str] = "/.well-known/openid-configuration"
    authorize_path: ClassVar[str] = "/authorize"
    token_path: ClassVar[str] = "/token"
    userinfo_path: ClassVar[str] = "/userinfo"
    jwks_path: ClassVar[str] = "/jwks"
    revoke_path: ClassVar[str] = "/revoke"
    access_token_ttl: ClassVar[int] = 3600
    default_scope: ClassVar[str] = "openid"
    sends_iss_param: ClassVar[bool] = False
    id_token_on_refresh: ClassVar[bool] = True
    supported_faults: ClassVar[frozenset[Fault]] = frozenset(Fault)

    def __init__(
        self,
        *,
        client_id: str = "test-client",
        client_secret: str = "test-secret",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self._lock = threading.Lock()
        self.reset()
        self._keys: list[RSAKey] = [self._new_key()]  # published; the last one signs
        self._rogue: RSAKey | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        routes = self._routes()
        self._handlers = {path: handler for path, _, handler in routes}
        self._url_map = Map(
            [Rule(path, endpoint=path, methods=methods) for path, methods, _ in routes]
        )

    def reset(self) -> None:
        """Back to the state after __init__ (keys and the running server are kept): settings,
        user, faults, issued codes and tokens; the recorded requests start as new lists."""
        self.client_name = "Test App"
        self.user: FakeUser = self.default_user()
        self.interactive = False
        self.timeout_delay = 3.0
        #: If set, authorize only accepts these exact redirect URIs (else any absolute URI).
        self.redirect_uris: list[str] | None = None
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[RecordedTokenRequest] = []
        self.userinfo_requests: list[RecordedBearerRequest] = []
        self.revoke_requests: list[dict[str, str]] = []
        with self._lock:
            self._faults: dict[Fault, int | None] = {}
            self._codes: dict[str, _Code] = {}
            self._access: dict[str, _Token] = {}
            self._refresh: dict[str, _Token] = {}

    # ----------------------------------------------------------- lifecycle
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
        server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{server.server_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes a TIMEOUT fault that is waiting
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- URLs
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start()")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def issuer(self) -> str:
        return self.base_url + self.issuer_path

    @property
    def discovery_url(self) -> str:
        return self.base_url + self.discovery_path

    @property
    def authorization_endpoint(self) -> str:
        return self.base_url + self.authorize_path

    @property
    def token_endpoint(self) -> str:
        return self.base_url + self.token_path

    @property
    def userinfo_endpoint(self) -> str:
        return self.base_url + self.userinfo_path

    @property
    def jwks_uri(self) -> str:
        return self.base_url + self.jwks_path

    # --------------------------------------------------------------- faults
    def fail(self, fault: Fault, *, times: int | None = 1) -> None:
        """Arm ``fault`` for its next ``times`` occurrences (None: until clear_faults())."""
        if fault not in self.supported_faults:
            raise ValueError(f"{type(self).__name__} does not support {fault!r}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._faults[fault] = times

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def armed_faults(self) -> dict[Fault, int | None]:
        with self._lock:
            return dict(self._faults)

    def _take(self, fault: Fault) -> bool:
        with self._lock:
            if fault not in self._faults:
                return False
            remaining = self._faults[fault]
            if remaining is not None:
                if remaining <= 1:
                    del self._faults[fault]
                else:
                    self._faults[fault] = remaining - 1
            return True

    # ----------------------------------------------------------------- keys
    @staticmethod
    def _new_key() -> RSAKey:
        return RSAKey.generate_key(
            2048, parameters={"kid": secrets.token_hex(20), "use": "sig", "alg": "RS256"}
        )

    @property
    def jwks(self) -> KeySetSerialization:
        """The published JSON Web Key Set (public keys only)."""
        return {"keys": [k.as_dict(private=False) for k in self._keys]}

    @property
    def signing_kid(self) -> str:
        return str(self._keys[-1].kid)

    def rotate_signing_key(self, *, keep_old: bool = True) -> str:
        """Sign with a fresh key (published in the JWKS); return its kid."""
        key = self._new_key()
        self._keys = [*self._keys, key] if keep_old else [key]
        return str(key.kid)

    def _rogue_key(self) -> RSAKey:
        with self._lock:
            if self._rogue is None:
                self._rogue = self._new_key()
            return self._rogue

    # ------------------------------------------------------------- id_token
    def issue_id_token(
        self,
        *,
        user: FakeUser | None = None,
        nonce: str | None = None,
        access_token: str | None = None,
        scope: str | None = None,
        claims_request: Mapping[str, Any] | None = None,
        faults: Iterable[Fault] = (),
        **overrides: object,
    ) -> str:
        """Mint an id_token as the token endpoint would, for direct tests.

        ``scope`` defaults to :attr:`default_scope`, ``claims_request`` to the
        flavour's default. ``faults`` are applied explicitly (armed faults are
        not consumed). ``overrides`` replace claims; an override of None
        deletes the claim.
        """
        grant = _Grant(
            client_id=self.client_id,
            redirect_uri="",
            scopes=tuple((scope if scope is not None else self.default_scope).split()),
            nonce=nonce,
            code_challenge=None,
            code_challenge_method=None,
            claims_request=claims_request
            if claims_request is not None
            else self._default_claims_request(),
            params={},
            user=replace(user or self.user),
            auth_time=int(self.clock()),
        )
        return self._mint_id_token(grant, access_token, set(faults), overrides)

    def _mint_id_token(
        self,
        grant: _Grant,
        access_token: str | None,
        faults: set[Fault] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> str:
        if faults is None:
            faults = {f for f in _ID_TOKEN_FAULTS if f in self.supported_faults and self._take(f)}
        now = int(self.clock())
        cid = grant.client_id
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "azp": cid,
            "aud": cid,
            "sub": grant.user.sub,
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
            "auth_time": grant.auth_time,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if access_token is not None:
            claims["at_hash"] = _at_hash(access_token)
        claims.update(self._identity_claims(grant, "id_token"))
        if Fault.WRONG_NONCE in faults:
            claims["nonce"] = "wrong-" + secrets.token_urlsafe(12)
        if Fault.LEGACY_ISS in faults:
            claims["iss"] = self.issuer.split("://", 1)[-1]
        if Fault.WRONG_ISS in faults:
            claims["iss"] = OTHER_ISSUER
        if Fault.WRONG_AUD in faults:
            claims["aud"] = claims["azp"] = OTHER_CLIENT_ID
        if Fault.WRONG_AZP in faults:
            claims["aud"], claims["azp"] = [cid, OTHER_CLIENT_ID], OTHER_CLIENT_ID
        if Fault.EXPIRED_ID_TOKEN in faults:
            claims["iat"], claims["exp"] = now - 2 * ID_TOKEN_TTL, now - ID_TOKEN_TTL
        for name, value in (overrides or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key, kid = self._keys[-1], self.signing_kid
        if Fault.BAD_SIGNATURE in faults:
            key = self._rogue_key()
        if Fault.UNKNOWN_KID in faults:
            key, kid = self._rogue_key(), "unknown-" + secrets.token_hex(8)
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, key, algorithms=["RS256"])

    # --------------------------------------------------------- flavour hooks
    @classmethod
    def default_user(cls) -> FakeUser:
        return FakeUser(sub="1", email="alice@example.com", name="Alice Example")

    def _default_claims_request(self) -> Mapping[str, Any]:
        return {}

    @abstractmethod
    def _discovery_document(self) -> dict[str, Any]: ...

    @abstractmethod  # claims about the user for target "id_token" or "userinfo"
    def _identity_claims(self, grant: _Grant, target: str) -> dict[str, Any]: ...

    @abstractmethod  # kind -> (HTTP status, OAuth error code, message)
    def _error_table(self, detail: str) -> Mapping[str, tuple[int, str, str]]: ...

    @abstractmethod
    def _authenticate_client(self, form: _Form, basic: tuple[str, str] | None) -> _Err: ...

    def _check_authorize_params(self, params: Mapping[str, str]) -> str | None:
        return None

    def _check_verifier(self, grant: _Grant, verifier: str | None) -> _Err:
        return None

    def _claims_request(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        return {}

    @abstractmethod
    def _success_params(self, grant: _Grant, code: str) -> list[tuple[str, str]]: ...

    def _wants_refresh_token(self, grant: _Grant) -> bool:
        return True

    @abstractmethod
    def _token_body(self, grant: _Grant, access: str, refresh: str | None, id_token: str | None,
                    refreshed: bool) -> dict[str, Any]: ...  # fmt: skip

    def _new_secret(self, kind: str) -> str:
        return secrets.token_urlsafe(32)

    def _routes(self) -> list[tuple[str, list[str], Callable[[Request], Response]]]:
        return [
            (self.discovery_path, ["GET"], self._handle_discovery),
            (self.authorize_path, ["GET", "POST"], self._handle_authorize),
            (self.token_path, ["POST"], self._handle_token),
            (self.userinfo_path, ["GET", "POST"], self._handle_userinfo),
            (self.jwks_path, ["GET"], self._handle_jwks),
            (self.revoke_path, ["POST"], self._handle_revoke),
        ]

    # -------------------------------------------------------------- serving
    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _ = self._url_map.bind_to_environ(environ).match()
            response = self._handlers[str(endpoint)](request)
        except HTTPException as exc:
            return exc(environ, start_response)
        return response(environ, start_response)

    def _err(self, kind: str, detail: str = "") -> Response:
        status, error, message = self._error_table(detail)[kind]
        if error:  # RFC 6749 style (Google)
            return _json({"error": error, "error_description": message}, status)
        return _json({"status": status, "message": message}, status)  # Twitch style

    def _handle_discovery(self, request: Request) -> Response:
        if self._take(Fault.DISCOVERY_DOWN):
            return _html("<html><body><h1>503 Service Unavailable</h1></body></html>", 503)
        return _json(self._discovery_document())

    def _handle_jwks(self, request: Request) -> Response:
        return _json(self.jwks)

    def _error_page(self, status: int, error: str, description: str) -> Response:
        title = f"<title>{self.display_name} - Error</title>"
        heading = f"<h1>Error {status}: {html.escape(error)}</h1>"
        return _html(
            f"<html><head>{title}</head><body>{heading}<p>{html.escape(description)}</p>", status
        )

    def _handle_authorize(self, request: Request) -> Response:
        decision: str | None = None
        if request.method == "POST":  # consent page submission
            params = request.form.to_dict()
            decision = params.pop("decision", "")
        else:
            params = request.args.to_dict()
            self.authorize_requests.append(dict(params))
        client_id = params.get("client_id", "")
        if client_id != self.client_id:
            return self._error_page(
                400, "invalid_client", f"The OAuth client was not found: {client_id!r}"
            )
        redirect_uri = params.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if not parts.scheme or not parts.netloc or parts.fragment:
            return self._error_page(400, "invalid_request", "Missing or invalid redirect_uri")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return self._error_page(
                400, "redirect_uri_mismatch", f"redirect_uri not registered: {redirect_uri}"
            )
        if decision not in (None, "allow", "cancel"):
            return self._error_page(400, "invalid_request", "Unknown consent decision")

        def deny(error: str, description: str) -> Response:
            out = [("error", error), ("error_description", description)]
            if "state" in params:
                out.append(("state", params["state"]))
            if self.sends_iss_param:
                out.append(("iss", self.issuer))
            return Response(status=302, headers={"Location": _with_query(redirect_uri, out)})

        if params.get("response_type") != "code":
            return deny("unsupported_response_type", "Only response_type=code is supported")
        scopes = tuple(params.get("scope", "").split())
        if "openid" not in scopes:
            return deny("invalid_scope", "The scope must include openid")
        problem = self._check_authorize_params(params)
        if problem is not None:
            return deny("invalid_request", problem)
        if decision == "cancel" or (decision is None and self._take(Fault.ACCESS_DENIED)):
            return deny("access_denied", "The user denied the request")
        if decision is None and self.interactive:
            return self._consent_page(params, scopes)
        grant = _Grant(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            nonce=params.get("nonce"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            claims_request=self._claims_request(params),
            params=dict(params),
            user=replace(self.user),
            auth_time=int(self.clock()),
        )
        code = self._new_secret("code")
        with self._lock:
            self._codes[code] = _Code(grant, self.clock() + CODE_TTL)
        out = self._success_params(grant, code)
        if self._take(Fault.ISS_PARAM_MISMATCH):
            out = [p for p in out if p[0] != "iss"] + [("iss", OTHER_ISSUER)]
        return Response(status=302, headers={"Location": _with_query(redirect_uri, out)})

    def _consent_page(self, params: Mapping[str, str], scopes: tuple[str, ...]) -> Response:
        account = self.user.email or self.user.preferred_username or self.user.sub
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        body = f"""<!doctype html>
<html><head><title>Sign in - {self.display_name}</title></head><body>
<h1>{html.escape(self.client_name)} wants to access your {self.display_name} account</h1>
<p id="account">Signed in as <strong>{html.escape(account)}</strong></p>
<p id="scopes">Requested scopes: {html.escape(" ".join(scopes))}</p>
<form method="post" action="{html.escape(self.authorize_path)}">{hidden}
<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
</form></body></html>
"""
        return _html(body)

    def _handle_token(self, request: Request) -> Response:
        form = request.form.to_dict()
        basic = _parse_basic(request.headers.get("Authorization"))
        self.token_requests.append(
            RecordedTokenRequest(form=form, basic_auth=basic, headers=dict(request.headers))
        )
        if self._take(Fault.TIMEOUT):
            self._stopping.wait(self.timeout_delay)
        if self._take(Fault.SERVER_ERROR):
            return _html(
                "<html><body><h1>500. That's an error.</h1><p>Server Error</p></body></html>", 500
            )
        if self._take(Fault.MALFORMED_JSON):
            return Response('{"access_token": "ya29.trunc', mimetype="application/json")
        if self._take(Fault.INVALID_GRANT):
            return self._err("invalid_code")
        if request.mimetype != _FORM:
            return self._err("bad_request", "Content-Type must be " + _FORM)
        if any(len(values) > 1 for values in request.form.listvalues()):
            return self._err("bad_request", "Repeated parameter")
        problem = self._authenticate_client(form, basic)
        if problem is not None:
            return problem
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            with self._lock:
                record = self._refresh.get(form.get("refresh_token", ""))
            if record is None:
                return self._err("invalid_refresh")
            return self._issue_tokens(
                replace(record.grant, nonce=None), None, form["refresh_token"]
            )
        return self._err("unsupported_grant", grant_type)

    def _exchange_code(self, form: Mapping[str, str]) -> Response:
        code = form.get("code")
        if not code:
            return self._err("bad_request", "Missing required parameter: code")
        with self._lock:
            record = self._codes.get(code)
            if record is None:
                return self._err("invalid_code")
            if record.used:  # replay: revoke what the code produced (RFC 6749 4.1.2)
                for token in record.tokens:
                    self._access.pop(token, None)
                    self._refresh.pop(token, None)
                return self._err("invalid_code")
            record.used = True
        grant = record.grant
        if self.clock() >= record.expires_at:
            return self._err("invalid_code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._err("redirect_mismatch")
        problem = self._check_verifier(grant, form.get("code_verifier"))
        if problem is not None:
            return problem
        return self._issue_tokens(grant, record, None)

    def _issue_tokens(
        self, grant: _Grant, code: _Code | None, refresh_token: str | None
    ) -> Response:
        access = self._new_secret("access")
        new_refresh = None
        if refresh_token is None and self._wants_refresh_token(grant):
            new_refresh = self._new_secret("refresh")
        with self._lock:
            self._access[access] = _Token(grant, self.clock() + self.access_token_ttl)
            if new_refresh is not None:
                self._refresh[new_refresh] = _Token(grant, float("inf"))
            if code is not None:
                code.tokens += [t for t in (access, new_refresh) if t is not None]
        id_token = (
            self._mint_id_token(grant, access)
            if code is not None or self.id_token_on_refresh
            else None
        )
        body = self._token_body(grant, access, refresh_token or new_refresh, id_token, code is None)
        return _json(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _lookup_access(self, token: str | None) -> _Token | None:
        with self._lock:
            record = self._access.get(token or "")
        if record is None or self.clock() >= record.expires_at:
            return None
        return record

    def _handle_userinfo(self, request: Request) -> Response:
        header = request.headers.get("Authorization")
        token = _auth_token(header, ("bearer",))
        self.userinfo_requests.append(RecordedBearerRequest(request.method, header, token))
        record = self._lookup_access(token)
        if record is None:
            response = self._err("unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return _json(self._identity_claims(record.grant, "userinfo"))

    def _handle_revoke(self, request: Request) -> Response:
        params = {**request.args.to_dict(), **request.form.to_dict()}
        self.revoke_requests.append(params)
        token = params.get("token", "")
        with self._lock:
            found = self._access.pop(token, None) or self._refresh.pop(token, None)
        return self._err("invalid_token") if found is None else Response(status=200)


class FakeGoogle(FakeProvider):
    """accounts.google.com: issuer = base_url."""

    display_name = "Google"
    discovery_path = "/.well-known/openid-configuration"
    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    userinfo_path = "/v1/userinfo"
    jwks_path = "/oauth2/v3/certs"
    revoke_path = "/revoke"
    access_token_ttl = 3599
    default_scope = "openid email profile"
    sends_iss_param = True

    @classmethod
    def default_user(cls) -> FakeUser:
        return FakeUser(
            sub="104857600000000000001",
            email="alice@example.com",
            email_verified=True,
            name="Alice Example",
            picture="https://lh3.googleusercontent.com/a/fake-alice=s96-c",
        )

    def _discovery_document(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "issuer": self.issuer,
            "authorization_endpoint": base + self.authorize_path,
            "token_endpoint": base + self.token_path,
            "userinfo_endpoint": base + self.userinfo_path,
            "revocation_endpoint": base + self.revoke_path,
            "jwks_uri": base + self.jwks_path,
            "response_types_supported": [
                "code", "token", "id_token", "code token", "code id_token",
                "token id_token", "code token id_token", "none",
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud", "email", "email_verified", "exp", "family_name", "given_name",
                "iat", "iss", "name", "picture", "sub",
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": [
                "authorization_code", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ],
        }  # fmt: skip

    @staticmethod
    def _short_scopes(scopes: Iterable[str]) -> set[str]:
        urls = {url: short for short, url in _GOOGLE_SCOPE_URLS}
        return {urls.get(s, s) for s in scopes}

    @staticmethod
    def _granted_scopes(scopes: Iterable[str]) -> list[str]:
        shorts = dict(_GOOGLE_SCOPE_URLS)
        return list(dict.fromkeys(shorts.get(s, s) for s in scopes))

    def _identity_claims(self, grant: _Grant, target: str) -> dict[str, Any]:
        user, scopes = grant.user, self._short_scopes(grant.scopes)
        out: dict[str, Any] = {"sub": user.sub} if target == "userinfo" else {}
        if "email" in scopes and user.email is not None:
            out["email"] = user.email
            out["email_verified"] = user.email_verified
        if "profile" in scopes:
            if user.name is not None:
                out["name"] = user.name
                given, _, family = user.name.partition(" ")
                out["given_name"] = given
                if family:
                    out["family_name"] = family
            if user.picture is not None:
                out["picture"] = user.picture
        if user.hd is not None:
            out["hd"] = user.hd
        return out

    def _check_authorize_params(self, params: Mapping[str, str]) -> str | None:
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is None:
            return None
        if method not in (None, "plain", "S256"):
            return f"Invalid code_challenge_method: {method}"
        if not 43 <= len(challenge) <= 128:
            return "Invalid code_challenge"
        return None

    def _success_params(self, grant: _Grant, code: str) -> list[tuple[str, str]]:
        out = [("state", grant.params["state"])] if "state" in grant.params else []
        extra = [
            url for short, url in _GOOGLE_SCOPE_URLS if short in self._short_scopes(grant.scopes)
        ]
        scope = " ".join(dict.fromkeys([*grant.scopes, *extra]))
        out += [("iss", self.issuer), ("code", code), ("scope", scope), ("authuser", "0")]
        if grant.user.hd is not None:
            out.append(("hd", grant.user.hd))
        consented = self.interactive or "consent" in grant.params.get("prompt", "")
        return [*out, ("prompt", "consent" if consented else "none")]

    def _error_table(self, detail: str) -> Mapping[str, tuple[int, str, str]]:
        return {
            "bad_request": (400, "invalid_request", detail or "Bad Request"),
            "unknown_client": (401, "invalid_client", "The OAuth client was not found."),
            "bad_secret": (401, "invalid_client", "Unauthorized"),
            "missing_secret": (400, "invalid_request", "client_secret is missing."),
            "invalid_code": (400, "invalid_grant", "Bad Request"),
            "redirect_mismatch": (400, "redirect_uri_mismatch", "Bad Request"),
            "missing_verifier": (400, "invalid_grant", "Missing code verifier."),
            "bad_verifier": (400, "invalid_grant", "Invalid code verifier."),
            "unexpected_verifier": (
                400,
                "invalid_grant",
                "code_verifier or verifier is not needed.",
            ),
            "unsupported_grant": (400, "unsupported_grant_type", f"Invalid grant_type: {detail}"),
            "invalid_refresh": (400, "invalid_grant", "Token has been expired or revoked."),
            "invalid_token": (400, "invalid_token", "Token expired or revoked"),
            "unauthorized": (401, "invalid_request", "Invalid Credentials"),
        }

    def _authenticate_client(self, form: _Form, basic: tuple[str, str] | None) -> _Err:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if basic is not None:
            if secret is not None:
                return self._err("bad_request", "Multiple client authentication methods used")
            if client_id and client_id != basic[0]:
                return self._err("bad_request", "client_id does not match Authorization header")
            client_id, secret = basic
        if not client_id:
            return self._err("bad_request", "Could not determine client ID from request.")
        if client_id != self.client_id:
            return self._err("unknown_client")
        if secret is None:
            return self._err("missing_secret")
        if not hmac.compare_digest(secret, self.client_secret):
            return self._err("bad_secret")
        return None

    def _check_verifier(self, grant: _Grant, verifier: str | None) -> _Err:
        challenge = grant.code_challenge
        if challenge is None:
            return self._err("unexpected_verifier") if verifier is not None else None
        if verifier is None:
            return self._err("missing_verifier")
        if not 43 <= len(verifier) <= 128 or not verifier.isascii():
            return self._err("bad_verifier")
        computed = _s256(verifier) if grant.code_challenge_method == "S256" else verifier
        if not hmac.compare_digest(computed, challenge):
            return self._err("bad_verifier")
        return None

    def _wants_refresh_token(self, grant: _Grant) -> bool:
        return grant.params.get("access_type") == "offline"  # as Google: offline access only

    def _token_body(self, grant: _Grant, access: str, refresh: str | None, id_token: str | None,
                    refreshed: bool) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_token_ttl,
            "scope": " ".join(self._granted_scopes(grant.scopes)),
            "token_type": "Bearer",
            "id_token": id_token,
        }
        if refresh is not None and not refreshed:
            body["refresh_token"] = refresh
        return body

    def _new_secret(self, kind: str) -> str:
        prefix = {"code": "4/0A", "access": "ya29.a0", "refresh": "1//0"}[kind]
        return prefix + secrets.token_urlsafe(40)


class FakeTwitch(FakeProvider):
    """id.twitch.tv: issuer = base_url + "/oauth2"."""

    display_name = "Twitch"
    issuer_path = "/oauth2"
    discovery_path = "/oauth2/.well-known/openid-configuration"
    authorize_path = "/oauth2/authorize"
    token_path = "/oauth2/token"
    userinfo_path = "/oauth2/userinfo"
    jwks_path = "/oauth2/keys"
    revoke_path = "/oauth2/revoke"
    validate_path: ClassVar[str] = "/oauth2/validate"
    access_token_ttl = 14400
    default_scope = "openid user:read:email"
    id_token_on_refresh = False
    supported_faults = frozenset(Fault) - {Fault.LEGACY_ISS}

    def reset(self) -> None:
        super().reset()
        self.validate_requests: list[RecordedBearerRequest] = []

    @classmethod
    def default_user(cls) -> FakeUser:
        return FakeUser(
            sub="141981764",
            email="alice@example.com",
            email_verified=True,
            picture="https://static-cdn.jtvnw.net/jtv_user_pictures/fake-alice-profile_image-300x300.png",
            preferred_username="alice",
        )

    @property
    def validate_url(self) -> str:
        return self.base_url + self.validate_path

    def _routes(self) -> list[tuple[str, list[str], Callable[[Request], Response]]]:
        return [*super()._routes(), (self.validate_path, ["GET"], self._handle_validate)]

    def _default_claims_request(self) -> Mapping[str, Any]:
        return {"id_token": {"email": None, "email_verified": None, "picture": None}}

    def _discovery_document(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "authorization_endpoint": base + self.authorize_path,
            "claims_parameter_supported": True,
            "claims_supported": [
                "aud", "exp", "iat", "iss", "sub", "azp", "email", "email_verified",
                "picture", "preferred_username", "updated_at",
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": self.issuer,
            "jwks_uri": base + self.jwks_path,
            "response_types_supported": [
                "id_token", "code", "token", "code id_token", "token id_token",
            ],
            "scopes_supported": ["openid"],
            "subject_types_supported": ["public"],
            "token_endpoint": base + self.token_path,
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "userinfo_endpoint": base + self.userinfo_path,
        }  # fmt: skip

    def _check_authorize_params(self, params: Mapping[str, str]) -> str | None:
        try:
            claims = json.loads(params.get("claims", "{}"))
        except ValueError:
            claims = None
        if isinstance(claims, dict) and all(isinstance(v, dict | None) for v in claims.values()):
            return None
        return "Invalid claims parameter"

    def _claims_request(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        parsed: dict[str, Any] = json.loads(params["claims"]) if "claims" in params else {}
        return parsed

    def _identity_claims(self, grant: _Grant, target: str) -> dict[str, Any]:
        user = grant.user
        requested = grant.claims_request.get(target) or {}
        out: dict[str, Any] = {}
        if target == "userinfo":
            out["sub"] = user.sub
        elif user.preferred_username is not None:
            out["preferred_username"] = user.preferred_username
        may_email = "user:read:email" in grant.scopes and user.email is not None
        for name in requested:
            if name == "email" and may_email:
                out["email"] = user.email
            elif name == "email_verified" and may_email:
                out["email_verified"] = user.email_verified
            elif name == "picture" and user.picture is not None:
                out["picture"] = user.picture
            elif name == "preferred_username" and user.preferred_username is not None:
                out["preferred_username"] = user.preferred_username
            elif name == "updated_at":
                updated = datetime.fromtimestamp(grant.auth_time, UTC)
                out["updated_at"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out

    def _success_params(self, grant: _Grant, code: str) -> list[tuple[str, str]]:
        out = [("code", code), ("scope", " ".join(grant.scopes))]
        if "state" in grant.params:
            out.append(("state", grant.params["state"]))
        return out

    def _error_table(self, detail: str) -> Mapping[str, tuple[int, str, str]]:
        return {
            "bad_request": (400, "", detail or "Bad Request"),
            "unknown_client": (400, "", "invalid client"),
            "bad_secret": (403, "", "invalid client secret"),
            "missing_secret": (400, "", "missing client secret"),
            "invalid_code": (400, "", "Invalid authorization code"),
            "redirect_mismatch": (400, "", "Parameter redirect_uri does not match registered URI"),
            "unsupported_grant": (400, "", "Invalid grant type"),
            "invalid_refresh": (400, "", "Invalid refresh token"),
            "invalid_token": (400, "", "Invalid token"),
            "unauthorized": (401, "", "invalid access token"),
        }

    def _authenticate_client(self, form: _Form, basic: tuple[str, str] | None) -> _Err:
        # client_secret_post only: an Authorization: Basic header is ignored.
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id:
            return self._err("bad_request", "missing client id")
        if client_id != self.client_id:
            return self._err("unknown_client")
        if not secret:
            return self._err("missing_secret")
        if not hmac.compare_digest(secret, self.client_secret):
            return self._err("bad_secret")
        return None

    def _token_body(self, grant: _Grant, access: str, refresh: str | None, id_token: str | None,
                    refreshed: bool) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"access_token": access, "expires_in": self.access_token_ttl}
        if id_token is not None:
            body["id_token"] = id_token
        body.update(refresh_token=refresh, scope=list(grant.scopes), token_type="bearer")
        return body

    def _new_secret(self, kind: str) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(secrets.choice(alphabet) for _ in range(50 if kind == "refresh" else 30))

    def _handle_validate(self, request: Request) -> Response:
        header = request.headers.get("Authorization")
        token = _auth_token(header, ("oauth", "bearer"))
        self.validate_requests.append(RecordedBearerRequest(request.method, header, token))
        record = self._lookup_access(token)
        if record is None:
            return self._err("unauthorized")
        grant = record.grant
        return _json(
            {
                "client_id": grant.client_id,
                "login": grant.user.preferred_username or "",
                "scopes": list(grant.scopes),
                "user_id": grant.user.sub,
                "expires_in": max(0, int(record.expires_at - self.clock())),
            }
        )

    def _handle_revoke(self, request: Request) -> Response:
        params = request.form.to_dict()
        if params.get("client_id") != self.client_id:
            self.revoke_requests.append(params)
            return _json({"status": 404, "message": "client does not exist"}, 404)
        return super()._handle_revoke(request)
