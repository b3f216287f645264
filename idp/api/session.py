"""The session endpoints: get, list, revoke, sign out."""

from __future__ import annotations

from flask import Response, jsonify, request

from idp import audit
from idp.api import body
from idp.api.blueprint import bp
from idp.api.serializers import get_session_json, session_json
from idp.oidc import backchannel
from idp.runtime import get_runtime
from idp.sessions import current as sessions
from idp.sessions import store


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/get-session")
def get_session() -> Response:
    # Better Auth coerces the query value: any non-empty value, "false" included, is true.
    disable_refresh = bool(request.args.get("disableRefresh"))
    current = sessions.current_session(refresh=not disable_refresh)
    if current is None:
        return _no_store(jsonify(None))
    return _no_store(jsonify(get_session_json(current.session, current.user, current.presentation)))


@bp.post("/sign-out")
def sign_out() -> Response:
    current = sessions.current_session(refresh=False)
    if current is not None:
        store.delete_session(current.session.id)
        backchannel.sessions_ended(
            current.user.id, get_runtime().now(), session_id=current.session.id
        )
    sessions.end_cookie()
    return _no_store(jsonify({"success": True}))


@bp.get("/list-sessions")
def list_sessions() -> Response:
    current = sessions.require_fresh_session()
    listed = store.list_for_user(current.user.id, get_runtime().now())
    return _no_store(jsonify([session_json(s) for s in listed]))


@bp.post("/revoke-session")
def revoke_session() -> Response:
    current = sessions.require_session()
    # Better Auth takes the session token here; we take the session id that stands for it.
    session_id = body.required_string(body.json_body(), "token", max_length=128)
    if store.delete_session(session_id, user_id=current.user.id):
        backchannel.sessions_ended(current.user.id, get_runtime().now(), session_id=session_id)
        audit.record(
            "session.revoked", actor=current.user.id, subject=current.user.id, session=session_id
        )
    if session_id == current.session.id:
        sessions.end_cookie()
    return _no_store(jsonify({"status": True}))


@bp.post("/revoke-sessions")
def revoke_sessions() -> Response:
    current = sessions.require_session()
    count = store.delete_for_user(current.user.id)
    backchannel.sessions_ended(current.user.id, get_runtime().now())
    audit.record("session.revoked_all", actor=current.user.id, subject=current.user.id, count=count)
    sessions.end_cookie()
    return _no_store(jsonify({"status": True}))


@bp.post("/revoke-other-sessions")
def revoke_other_sessions() -> Response:
    current = sessions.require_session()
    count = store.delete_for_user(current.user.id, keep=current.session.id)
    backchannel.sessions_ended(
        current.user.id, get_runtime().now(), keep_session=current.session.id
    )
    audit.record(
        "session.revoked_others", actor=current.user.id, subject=current.user.id, count=count
    )
    return _no_store(jsonify({"status": True}))
