"""``/ok``, the error page, and the development connector's sign-in page."""

from __future__ import annotations

import re

from flask import Response, abort, jsonify, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from idp.api.blueprint import bp
from idp.connectors.dev import DevUser
from idp.runtime import get_runtime
from idp.signin import flow

ERROR_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# What the error page says for each code; unknown codes get a generic sentence.
ERROR_MESSAGES = {
    "access_denied": "You cancelled the sign-in at the provider.",
    "state_mismatch": (
        "This sign-in link was already used, has expired, or was started in another browser. "
        "Please start again."
    ),
    "state_not_found": "The sign-in answer was incomplete. Please start again.",
    "no_code": "The provider did not complete the sign-in. Please try again.",
    "invalid_code": "The provider did not accept the sign-in. Please try again.",
    "account_not_linked": (
        "An account with this email already exists. Sign in with the provider you used before, "
        "then link this one from your settings."
    ),
    "account_already_linked_to_different_user": "This account is already linked to another user.",
    "unable_to_link_account": "The account could not be linked. Sign in again and retry.",
    "upstream_unavailable": "The sign-in provider is not answering. Please try again in a moment.",
    "invalid_id_token": "The provider's answer could not be verified. Please try again.",
    "issuer_mismatch": "The sign-in answer came from an unexpected provider. Please start again.",
    "hosted_domain_mismatch": "This account is not part of the organisation that may sign in here.",
    "oauth_provider_not_found": "This sign-in provider is not configured.",
    "account_suspended": (
        "This account is suspended. Contact the moderators if you think this is a mistake."
    ),
    "upstream_error": "The sign-in provider reported an error. Please try again.",
    "invalid_upstream_response": (
        "The sign-in provider answered in a way we could not read. Please try again."
    ),
    "internal_server_error": (
        "Something went wrong on our side; nothing was saved. Please try again."
    ),
}
GENERIC_MESSAGE = "Something went wrong while signing you in. Please try again."


def html(body: str, status: int = 200) -> Response:
    response = make_response(body, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    # Our pages are never framed and run no script.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


@bp.get("/ok")
def ok() -> Response:
    return jsonify({"ok": True})


@bp.get("/error")
def error_page() -> Response:
    code = request.args.get("error", "")
    if not ERROR_CODE.fullmatch(code):
        code = "UNKNOWN"
    message = ERROR_MESSAGES.get(code, GENERIC_MESSAGE)
    return html(render_template("error.html", code=code, message=message))


def _dev_request() -> tuple[str, str, str]:
    """The state, nonce and redirect URI of a dev sign-in; only our own callback is allowed."""
    if get_runtime().connectors.dev() is None:
        abort(404)
    source = request.form if request.method == "POST" else request.args
    state, nonce = source.get("state", ""), source.get("nonce", "")
    uri = source.get("redirect_uri", "")
    if not state or not nonce or uri != flow.redirect_uri("dev"):
        abort(400)
    return state, nonce, uri


@bp.get("/dev/sign-in")
def dev_sign_in_page() -> Response:
    state, nonce, uri = _dev_request()
    return html(
        render_template(
            "dev_sign_in.html",
            state=state,
            nonce=nonce,
            redirect_uri=uri,
            login_hint=request.args.get("login_hint", ""),
        )
    )


@bp.post("/dev/sign-in")
def dev_sign_in() -> BaseResponse:
    state, nonce, uri = _dev_request()
    if request.form.get("action") == "cancel":
        return redirect(flow.with_query(uri, state=state, error="access_denied"), code=303)
    name = request.form.get("name", "").strip()[:100] or "Dev User"
    email = request.form.get("email", "").strip().lower()[:320] or None
    if email is not None and "@" not in email:
        abort(400)
    subject = request.form.get("subject", "").strip()[:255] or (
        email or name.lower().replace(" ", "-")
    )
    connector = get_runtime().connectors.dev()
    assert connector is not None
    code = connector.issue_code(
        DevUser(
            subject=subject,
            name=name,
            email=email,
            email_verified=request.form.get("email_verified") == "on",
        ),
        nonce=nonce,
        redirect_uri=uri,
    )
    return redirect(flow.with_query(uri, code=code, state=state), code=303)
