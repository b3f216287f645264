"""Sign-in with a provider, the provider's callback, and linking another provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from flask import Response, g, jsonify, redirect, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from idp import audit
from idp.api import body
from idp.api.blueprint import bp
from idp.errors import BadRequestError
from idp.ops.metrics import metrics
from idp.runtime import get_runtime
from idp.sessions import current as sessions
from idp.sessions import store as session_store
from idp.sessions.cookies import STATE_COOKIE
from idp.signin import flow

MAX_PARAM_LENGTH = 4096
ResponseT = TypeVar("ResponseT", bound=BaseResponse)
_NEW_BROWSER_SECRET = "idp_new_browser_secret"  # noqa: S105  (a name, not a secret)


def browser_secret(*, create: bool) -> str | None:
    """The secret that binds pending sign-ins to this browser, from its signed cookie.

    With ``create``, a new one is made when the browser has none, and the cookie is (re)set.
    """
    runtime = get_runtime()
    jar = runtime.cookies
    existing = jar.decode(STATE_COOKIE, request.cookies.get(jar.name(STATE_COOKIE)))
    if not create:
        return existing
    # Re-set even an existing secret, so the cookie lives as long as the newest pending sign-in;
    # its value stays, because sign-ins pending in other tabs are bound to it.
    secret = existing or runtime.random.token(32)
    setattr(g, _NEW_BROWSER_SECRET, secret)
    return secret


def set_browser_cookie(response: ResponseT) -> ResponseT:
    """Write the binding cookie that :func:`browser_secret` scheduled, if any."""
    secret = g.get(_NEW_BROWSER_SECRET)
    if secret:
        runtime = get_runtime()
        runtime.cookies.set(response, STATE_COOKIE, secret, max_age=runtime.settings.state_ttl)
    return response


def _authorization_answer(url: str, *, disable_redirect: bool) -> Response:
    response = jsonify({"url": url, "redirect": not disable_redirect})
    response.headers["Cache-Control"] = "no-store"
    return set_browser_cookie(response)


@dataclass(frozen=True)
class SocialRequest:
    provider: str
    redirects: flow.Redirects
    disable_redirect: bool
    login_hint: str | None
    scopes: tuple[str, ...]


def social_request(*, new_user_callback: bool) -> SocialRequest:
    """The body of sign-in/social and link-social, every field checked before anything runs."""
    data = body.json_body()
    provider = body.required_string(data, "provider", max_length=64)
    if data.get("idToken") is not None:
        raise BadRequestError(
            "Signing in with an ID token is not supported", code="ID_TOKEN_NOT_SUPPORTED"
        )
    return SocialRequest(
        provider=provider,
        disable_redirect=body.boolean(data, "disableRedirect"),
        login_hint=body.string(data, "loginHint", max_length=320),
        scopes=body.scope_list(data, "scopes"),
        redirects=flow.checked_redirects(
            body.string(data, "callbackURL", redirect=True),
            body.string(data, "errorCallbackURL", redirect=True),
            body.string(data, "newUserCallbackURL", redirect=True) if new_user_callback else None,
        ),
    )


@bp.post("/sign-in/social")
def sign_in_social() -> Response:
    social = social_request(new_user_callback=True)
    url = flow.start(
        provider_id=social.provider,
        redirects=social.redirects,
        browser_secret=browser_secret(create=True) or "",
        login_hint=social.login_hint,
        extra_scopes=social.scopes,
    )
    return _authorization_answer(url, disable_redirect=social.disable_redirect)


@bp.post("/link-social")
def link_social() -> Response:
    current = sessions.require_session()
    social = social_request(new_user_callback=False)
    url = flow.start(
        provider_id=social.provider,
        redirects=social.redirects,
        browser_secret=browser_secret(create=True) or "",
        login_hint=social.login_hint,
        extra_scopes=social.scopes,
        linking_user=current.user.id,
    )
    return _authorization_answer(url, disable_redirect=social.disable_redirect)


def record_sign_in(provider_id: str, outcome: str, user_id: str | None) -> None:
    provider = provider_id if get_runtime().connectors.get(provider_id) else "unknown"
    metrics().signins.labels(provider, outcome).inc()
    action = {"ok": "signin.succeeded", "linked": "account.linked"}.get(outcome, "signin.failed")
    audit.record(
        action, actor=user_id or "anonymous", subject=user_id, provider=provider, outcome=outcome
    )


def _single_values(params: MultiDict[str, str]) -> dict[str, str]:
    """First value of each parameter; oversized values are dropped rather than parsed."""
    return {k: v for k, v in params.items() if len(v) <= MAX_PARAM_LENGTH}


@bp.route("/callback/<provider_id>", methods=["GET", "POST"], endpoint="callback")
def callback(provider_id: str) -> BaseResponse:
    if request.method == "POST":
        # response_mode=form_post arrives as a cross-site POST, which carries no SameSite=Lax
        # cookie; continue as a top-level GET so the browser binding can be checked.
        params = _single_values(request.form)
        # Our public URL, never the Host header a proxy may have rewritten.
        return redirect(flow.with_query(flow.redirect_uri(provider_id), **params), code=303)
    previous = sessions.current_session(refresh=False)
    response: BaseResponse
    try:
        finished = flow.finish(
            provider_id=provider_id,
            params=_single_values(request.args),
            browser_secret=browser_secret(create=False),
            signed_in_user=previous.user.id if previous else None,
            ip_address=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
        )
    except flow.SignInFailedError as failure:
        record_sign_in(provider_id, failure.code, None)
        response = redirect(flow.with_query(failure.redirect_to, error=failure.code), code=302)
    else:
        record_sign_in(
            provider_id, "linked" if finished.session_token is None else "ok", finished.user_id
        )
        if finished.session_token is not None:
            # Always a fresh token on sign-in (no session fixation); the one it replaces is revoked.
            if previous is not None:
                session_store.delete_session(previous.session.id)
            sessions.start_cookie(finished.session_token)
        response = redirect(finished.redirect_to, code=302)
    # The browser-binding cookie stays: other tabs may have sign-ins pending. It expires with them.
    return response
