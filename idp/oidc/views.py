"""Our OpenID provider's endpoints. Views parse, call, render; the rules live in rules.py,
the OAuth mechanics in server.py (Authlib), persistence in store.py."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from idp.api.pages import html
from idp.keys import jose
from idp.models import OAuthClient, User, db
from idp.oidc import backchannel, rules, store
from idp.oidc.claims import user_claims
from idp.oidc.server import (
    CONFIDENTIAL_AUTH_METHODS,
    TOKEN_AUTH_METHODS,
    AuthorizationServer,
    AuthorizedUser,
)
from idp.runtime import get_runtime
from idp.security.origins import origin_of
from idp.security.redirects import is_safe_relative_path
from idp.security.secrets import constant_time_equals, derive_key, sign
from idp.security.text import storable
from idp.sessions import current as sessions
from idp.sessions import store as session_store
from idp.sessions.store import UserView
from idp.signin import flow
from idp.signin.flow import with_query

log = logging.getLogger(__name__)

oidc = Blueprint("oidc", __name__)

AUTHORIZE_PATH = "/oauth2/authorize"
SERVER_KEY = "idp.oidc.server"
# Parameters that force a new sign-in: dropped from the request we resume after it, so that
# signing in satisfies them instead of looping (3.1.2.1).
ONE_SHOT_PARAMS = ("prompt", "max_age", "id_token_hint")


def server() -> AuthorizationServer:
    found: AuthorizationServer = current_app.extensions[SERVER_KEY]
    return found


# -- discovery ----------------------------------------------------------------------------------


@oidc.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """OpenID Connect Discovery 1.0, section 3; RFC 8414; RFC 9207 section 3."""
    base = get_runtime().settings.base_url
    document = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userinfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "end_session_endpoint": f"{base}/oauth2/logout",
        "scopes_supported": list(rules.SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(jose.ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": list(jose.ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": list(jose.ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(rules.SUPPORTED_CLAIMS),
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": sorted(rules.PROMPT_VALUES),
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# -- the authorization endpoint -----------------------------------------------------------------


def error_page(message: str, status: int = 400) -> Response:
    """For requests we cannot answer the client about (unknown client, unregistered redirect)."""
    return html(render_template("oidc_error.html", message=message), status)


def error_redirect(
    redirect_uri: str, error: str, description: str | None, state: str | None
) -> BaseResponse:
    """An authorization error response (RFC 6749 4.1.2.1) with ``iss`` (RFC 9207 2)."""
    params = {"error": error}
    if description:
        params["error_description"] = description
    if state:
        params["state"] = state
    params["iss"] = get_runtime().settings.base_url
    return redirect(with_query(redirect_uri, **params), code=302)


@dataclass(frozen=True)
class Checked:
    client: OAuthClient
    redirect_uri: str
    state: str | None
    prompts: frozenset[str]
    max_age: int | None
    claims: dict[str, dict[str, Any]]
    hinted_subject: str | None


class RefusedError(Exception):
    def __init__(self, response: BaseResponse | Response) -> None:
        super().__init__("refused")
        self.response = response


def check_request(params: MultiDict[str, str]) -> Checked:
    """The checks that come before anything else, one step each (as node-oidc-provider's)."""
    client = store.get_client(params.get("client_id", ""))
    if client is None:
        raise RefusedError(error_page("This application is not registered with us."))
    redirect_uri = params.get("redirect_uri", "")
    if not rules.redirect_uri_registered(redirect_uri, client.redirect_uris):
        raise RefusedError(
            error_page("This application asked to return to an address it has not registered.")
        )
    state = params.get("state")

    def refuse(error: str, description: str) -> RefusedError:
        return RefusedError(error_redirect(redirect_uri, error, description, state))

    for name in ("request", "request_uri"):
        if name in params:
            raise refuse(f"{name}_not_supported", f"{name} is not supported")
    if not all(storable(value) for _, value in params.items(multi=True)):
        raise refuse("invalid_request", "a parameter holds a NUL character")
    try:
        prompts = rules.parse_prompt(params.get("prompt"))
        max_age = rules.parse_max_age(params.get("max_age"))
        claims = rules.claims_within(
            rules.parse_claims_request(params.get("claims")), client.scope_set
        )
    except rules.RequestError as error:
        raise refuse("invalid_request", str(error)) from None
    hinted = None
    if params.get("id_token_hint"):
        hinted = hinted_subject(params["id_token_hint"], client.client_id)
        if hinted is None:
            raise refuse("invalid_request", "id_token_hint is not a valid ID token of ours")
    return Checked(client, redirect_uri, state, prompts, max_age, claims, hinted)


def hinted_subject(id_token: str, client_id: str | None) -> str | None:
    """The subject of an ID token we issued (its signature checked; expiry ignored, as hints
    are often old: Core 3.1.2.1, RP-Initiated Logout 2)."""
    try:
        _, claims = jose.verify_signature(id_token, get_runtime().keys.snapshot().verification_keys)
    except jose.TokenError:
        return None
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience or []
    if claims.get("iss") != get_runtime().settings.base_url:
        return None
    if client_id is not None and client_id not in audiences:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


def resume_url(params: MultiDict[str, str]) -> str:
    kept = [(k, v) for k, v in params.items(multi=True) if k not in ONE_SHOT_PARAMS and k != "csrf"]
    return f"{AUTHORIZE_PATH}?{urlencode(kept)}"


def send_to_sign_in(params: MultiDict[str, str]) -> BaseResponse:
    """Not signed in (or must sign in again): the chosen provider, or our chooser."""
    target = resume_url(params)
    provider = params.get("provider")
    if provider and get_runtime().connectors.get(provider) is not None:
        return start_provider(provider, target, params.get("login_hint"))
    query = {"return_to": target}
    if params.get("login_hint"):
        query["login_hint"] = params["login_hint"]
    return redirect(f"/oauth2/sign-in?{urlencode(query)}", code=302)


def start_provider(provider: str, return_to: str, login_hint: str | None) -> BaseResponse:
    from idp.api.signin import browser_secret, set_browser_cookie

    chooser = f"/oauth2/sign-in?{urlencode({'return_to': return_to})}"
    url = flow.start(
        provider_id=provider,
        redirects=flow.Redirects(callback_url=return_to, error_callback_url=chooser),
        browser_secret=browser_secret(create=True) or "",
        login_hint=login_hint,
    )
    return set_browser_cookie(redirect(url, code=303))


def csrf_token(purpose: str, session_id: str) -> str:
    """A form token bound to the user's session (our HTML forms; the origin is checked too)."""
    return sign(
        session_id, derive_key(get_runtime().settings.secret_key, f"form:{purpose}")
    ).rpartition(".")[2]


def check_form(purpose: str, session_id: str) -> None:
    base = get_runtime().settings.base_origin
    origin = request.headers.get("Origin") or origin_of(request.headers.get("Referer", "")) or ""
    if origin_of(origin) != base or not constant_time_equals(
        request.form.get("csrf", ""), csrf_token(purpose, session_id)
    ):
        abort(403)


def authorize(params: MultiDict[str, str], decision: str | None = None) -> BaseResponse | Response:
    runtime = get_runtime()
    try:
        checked = check_request(params)
    except RefusedError as refused:
        return refused.response
    if decision == "deny":
        return error_redirect(
            checked.redirect_uri, "access_denied", "the user declined", checked.state
        )
    current = sessions.current_session()
    login = rules.decide_login(
        prompts=checked.prompts,
        signed_in_user=current.user.id if current else None,
        auth_time=current.session.created_at if current else None,
        now=runtime.now(),
        max_age=checked.max_age,
        hinted_subject=checked.hinted_subject,
    )
    if login.error:
        return error_redirect(
            checked.redirect_uri, login.error, "the user must sign in", checked.state
        )
    if login.sign_in or current is None:
        return send_to_sign_in(params)
    authorized = AuthorizedUser(user=current.user, session=current.session, claims=checked.claims)
    try:
        grant = server().get_consent_grant(end_user=authorized)
    except OAuth2Error as error:
        if error.redirect_uri:
            return error_redirect(error.redirect_uri, error.error, error.description, checked.state)
        return error_page(error.description or error.error)
    requested = set(grant.request.scope.split())
    asked_claims = rules.requested_claims(checked.claims, "id_token") | rules.requested_claims(
        checked.claims, "userinfo"
    )
    wanted = requested | {f"claim:{c}" for c in asked_claims}
    granted = store.granted_scopes(current.user.id, checked.client.client_id)
    if decision == "approve":
        store.remember_consent(
            current.user.id, checked.client.client_id, wanted, runtime.now(), runtime.random
        )
    elif rules.needs_consent(
        first_party=checked.client.first_party,
        prompts=checked.prompts,
        requested=wanted,
        granted=granted,
    ):
        if "none" in checked.prompts:
            return error_redirect(
                checked.redirect_uri, "consent_required", "the user must consent", checked.state
            )
        return consent_page(
            params, checked.client, current.user, current.session.id, requested, asked_claims
        )
    response: BaseResponse = server().create_authorization_response(
        grant=grant, grant_user=authorized
    )
    return response


SCOPE_DESCRIPTIONS = {
    "openid": "Know who you are (your account id)",
    "profile": "See your name and picture",
    "email": "See your email address",
    "offline_access": "Stay signed in when you are away",
    "chat": "See how you appear in chat: name colour, badges and flair",
}


def consent_page(
    params: MultiDict[str, str],
    client: OAuthClient,
    user: UserView,
    session_id: str,
    scopes: set[str],
    claims: set[str],
) -> Response:
    hidden = [(k, v) for k, v in params.items(multi=True) if k not in ("csrf", "decision")]
    return html(
        render_template(
            "consent.html",
            client=client,
            user=user,
            scopes=[(s, SCOPE_DESCRIPTIONS.get(s, s)) for s in sorted(scopes)],
            claims=sorted(claims),
            hidden=hidden,
            csrf=csrf_token("consent", session_id),
        )
    )


@oidc.route(AUTHORIZE_PATH, methods=["GET", "POST"])
def authorization_endpoint() -> BaseResponse | Response:
    params = request.args if request.method == "GET" else request.form
    return authorize(params)


@oidc.post("/oauth2/consent")
def consent() -> BaseResponse | Response:
    current = sessions.current_session()
    if current is None:
        return send_to_sign_in(request.form)
    check_form("consent", current.session.id)
    decision = "approve" if request.form.get("decision") == "approve" else "deny"
    response = authorize(request.form, decision)
    response.status_code = 303 if response.status_code == 302 else response.status_code
    return response


# -- our sign-in chooser ------------------------------------------------------------------------


def _return_to(value: str | None) -> str:
    if not value or not value.startswith(AUTHORIZE_PATH + "?") or not is_safe_relative_path(value):
        abort(400)
    return value


@oidc.get("/oauth2/sign-in")
def chooser() -> Response:
    return_to = _return_to(request.args.get("return_to"))
    providers = [(c.id, c.name) for c in get_runtime().connectors.all()]
    error = request.args.get("error")
    return html(
        render_template(
            "chooser.html",
            providers=providers,
            return_to=return_to,
            login_hint=request.args.get("login_hint", ""),
            error=error if error and error.replace("_", "").isalnum() else None,
        )
    )


@oidc.post("/oauth2/sign-in")
def chooser_submit() -> BaseResponse:
    return_to = _return_to(request.form.get("return_to"))
    if request.form.get("action") == "cancel":
        answered = authorize(MultiDict(_parse_query(return_to)), decision="deny")
        answered.status_code = 303 if answered.status_code == 302 else answered.status_code
        return answered
    provider = request.form.get("provider", "")
    if get_runtime().connectors.get(provider) is None:
        abort(400)
    return start_provider(provider, return_to, request.form.get("login_hint") or None)


def _parse_query(url: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl, urlsplit

    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


# -- token, userinfo, revocation, introspection -------------------------------------------------


@oidc.post("/oauth2/token")
def token_endpoint() -> Response:
    response: Response = server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@oidc.post("/oauth2/revoke")
def revocation_endpoint() -> Response:
    response: Response = server().create_endpoint_response("revocation")
    return response


@oidc.post("/oauth2/introspect")
def introspection_endpoint() -> Response:
    response: Response = server().create_endpoint_response("introspection")
    response.headers["Cache-Control"] = "no-store"
    return response


def bearer_error(status: int, error: str, description: str) -> Response:
    """RFC 6750 section 3."""
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["WWW-Authenticate"] = (
        f'Bearer error="{error}", error_description="{description}"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@oidc.route("/oauth2/userinfo", methods=["GET", "POST"])
def userinfo_endpoint() -> Response:
    """Core 5.3: the claims of the token's user, as its scope (and claims request) allow."""
    header = request.headers.get("Authorization", "")
    from_header = header[7:].strip() if header[:7].lower() == "bearer " else None
    from_body = request.form.get("access_token") if request.method == "POST" else None
    if from_header and from_body:
        return bearer_error(400, "invalid_request", "send the token once")
    presented = from_header or from_body
    if not presented:
        response = bearer_error(401, "invalid_token", "an access token is required")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    runtime = get_runtime()
    row = store.find_access_token(presented) if len(presented) <= 512 else None
    grant = store.grant_of(row) if row else None
    user = db.session.get(User, row.user_id) if row and row.user_id else None
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= runtime.now()
        or grant is None
        or grant.revoked_at is not None
        or user is None
        or user.banned_at is not None
    ):
        return bearer_error(401, "invalid_token", "the access token is invalid, expired or revoked")
    scopes = row.scope.split()
    if "openid" not in scopes:
        return bearer_error(403, "insufficient_scope", "the openid scope is required")
    claims_request = json.loads(grant.claims) if grant.claims else {}
    response = jsonify(user_claims(user, rules.released_claims(scopes, claims_request, "userinfo")))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- RP-initiated logout ------------------------------------------------------------------------


@oidc.route("/oauth2/logout", methods=["GET", "POST"])
def end_session_endpoint() -> BaseResponse | Response:
    """OpenID Connect RP-Initiated Logout 1.0."""
    params = request.args if request.method == "GET" else request.form
    hint = params.get("id_token_hint")
    client_id = params.get("client_id")
    hinted = None
    hinted_sid = None
    hint_client = None
    if hint:
        try:
            _, claims = jose.verify_signature(hint, get_runtime().keys.snapshot().verification_keys)
        except jose.TokenError:
            return error_page("The sign-out request carried an ID token we did not issue.")
        if claims.get("iss") != get_runtime().settings.base_url:
            return error_page("The sign-out request carried an ID token we did not issue.")
        hinted = claims.get("sub")
        hinted_sid = claims.get("sid")
        aud = claims.get("aud")
        hint_client = (
            aud if isinstance(aud, str) else (aud[0] if isinstance(aud, list) and aud else None)
        )
        if store.get_client(hint_client or "") is None:
            # Signed by us but not an ID token for a client (a session JWT, say): no hint.
            return error_page("The sign-out request carried a token that is not an ID token.")
        if client_id and client_id != hint_client:
            return error_page("The sign-out request names two different applications.")
    client = store.get_client(client_id or hint_client or "")
    # Without a client to check it against, the URI is treated as not supplied (section 4).
    post_logout = params.get("post_logout_redirect_uri") if client is not None else None
    if post_logout and (client is None or post_logout not in client.post_logout_redirect_uris):
        return error_page("This application asked to return to an address it has not registered.")
    current = sessions.current_session(refresh=False)
    confirmed = False
    if request.method == "POST" and params.get("csrf") and current is not None:
        check_form("logout", current.session.id)
        confirmed = True
    hint_is_current = hinted == (current.user.id if current else None) and (
        current is not None and hinted_sid in (None, current.session.id)
    )
    if current is not None and not confirmed and not hint_is_current:
        # Without a valid hint for the signed-in user, ask first (section 6: logout CSRF).
        return html(
            render_template(
                "logout_confirm.html",
                csrf=csrf_token("logout", current.session.id),
                client=client,
                hidden=[(k, v) for k, v in params.items() if k != "csrf"],
            )
        )
    if current is not None:
        end_first_party_session(current.user.id, current.session.id)
    if post_logout and client is not None and (hinted is not None and not confirmed):
        target = (
            with_query(post_logout, state=params["state"]) if params.get("state") else post_logout
        )
        return redirect(target, code=303 if request.method == "POST" else 302)
    return html(render_template("signed_out.html", client=client))


def end_first_party_session(user_id: str, session_id: str) -> None:
    runtime = get_runtime()
    session_store.delete_session(session_id)
    # Tokens that exist only because of this session end with it; offline access survives.
    # The clients signed in from it hear about it (back-channel logout).
    backchannel.sessions_ended(user_id, runtime.now(), session_id=session_id)
    sessions.end_cookie()
