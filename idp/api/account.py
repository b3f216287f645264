"""Linked accounts and the user's own profile."""

from __future__ import annotations

from flask import Response, jsonify

from idp.api import body
from idp.api.blueprint import bp
from idp.api.serializers import account_json
from idp.errors import BadRequestError, ValidationError
from idp.runtime import get_runtime
from idp.security.origins import origin_of
from idp.security.redirects import MAX_URL_LENGTH
from idp.sessions import current as sessions
from idp.users import store as users

MAX_NAME_LENGTH = 100


@bp.get("/list-accounts")
def list_accounts() -> Response:
    current = sessions.require_session()
    response = jsonify([account_json(a) for a in users.list_accounts(current.user.id)])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/unlink-account")
def unlink_account() -> Response:
    current = sessions.require_fresh_session()
    # Better Auth takes the account's own id (from list-accounts), not the provider's user id.
    account_id = body.required_string(body.json_body(), "accountId", max_length=64)
    result = users.unlink_account(current.user.id, account_id)
    if result == "last_account":
        raise BadRequestError(
            "You can't unlink your last account", code="FAILED_TO_UNLINK_LAST_ACCOUNT"
        )
    if result == "not_found":
        raise BadRequestError("Account not found", code="ACCOUNT_NOT_FOUND")
    return jsonify({"status": True})


@bp.post("/update-user")
def update_user() -> Response:
    current = sessions.require_session()
    data = body.json_body()
    if data.get("email"):
        raise BadRequestError("Email can not be updated", code="EMAIL_CAN_NOT_BE_UPDATED")
    name = body.string(data, "name", max_length=MAX_NAME_LENGTH)
    image = body.string(data, "image", max_length=MAX_URL_LENGTH)
    clear_image = "image" in data and data["image"] is None
    if name is not None and not name.strip():
        raise ValidationError("[body.name] Invalid input: expected a non-empty name")
    if image is not None and not _is_image_url(image):
        raise ValidationError("[body.image] Invalid input: expected an https URL")
    if name is None and image is None and not clear_image:
        raise BadRequestError("No fields to update", code="NO_FIELDS_TO_UPDATE")
    users.update_profile(
        current.user,
        name=name.strip() if name is not None else None,
        image="" if clear_image else image,
        now=get_runtime().now(),
    )
    return jsonify({"status": True})


def _is_image_url(value: str) -> bool:
    """Images are shown to other users: only https URLs, never javascript: or data: ones."""
    origin = origin_of(value)
    return origin is not None and origin.startswith("https://")
