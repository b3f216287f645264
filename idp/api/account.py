"""Linked accounts and the user's own profile."""

from __future__ import annotations

from flask import Response, jsonify

from idp import audit
from idp.api import body
from idp.api.blueprint import bp
from idp.api.serializers import account_json
from idp.dates import iso
from idp.errors import BadRequestError, UnauthorizedError, ValidationError
from idp.oidc import store as oidc_store
from idp.runtime import get_runtime
from idp.security.origins import origin_of
from idp.security.redirects import MAX_URL_LENGTH
from idp.sessions import current as sessions
from idp.users import moderation
from idp.users import store as users
from idp.users.presentation import PresentationError, checked_name_color

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
    audit.record(
        "account.unlinked", actor=current.user.id, subject=current.user.id, account=account_id
    )
    return jsonify({"status": True})


@bp.post("/update-user")
def update_user() -> Response:
    current = sessions.require_session()
    data = body.json_body()
    if data.get("email"):
        raise BadRequestError("Email can not be updated", code="EMAIL_CAN_NOT_BE_UPDATED")
    name = body.string(data, "name", max_length=MAX_NAME_LENGTH)
    image = body.string(data, "image", max_length=MAX_URL_LENGTH)
    name_color = body.string(data, "nameColor", max_length=7)
    flair = body.string(data, "flair", max_length=64)
    if name is not None and not name.strip():
        raise ValidationError("[body.name] Invalid input: expected a non-empty name")
    if image is not None and not _is_image_url(image):
        raise ValidationError("[body.image] Invalid input: expected an https URL")
    if name_color is not None:
        try:
            checked_name_color(name_color)
        except PresentationError as error:
            raise ValidationError(f"[body.nameColor] {error}") from None
    known = {"name", "image", "nameColor", "flair"} & set(data)
    if not known:
        raise BadRequestError("No fields to update", code="NO_FIELDS_TO_UPDATE")
    now = get_runtime().now()
    user = users.get_user(current.user.id)
    if user is None:
        raise UnauthorizedError()
    if "flair" in data and not moderation.choose_flair(user, flair, now):
        raise ValidationError("[body.flair] Invalid input: not one of your flairs")
    if "nameColor" in data:
        moderation.set_name_color(user, name_color, now)
    if name is not None or "image" in data:
        users.update_profile(
            user,
            name=name.strip() if name is not None else None,
            image="" if "image" in data and data["image"] is None else image,
            now=now,
        )
    return jsonify({"status": True})


@bp.get("/list-flairs")
def list_flairs() -> Response:
    """Ours (not Better Auth's): the flairs an admin made available to the signed-in user."""
    current = sessions.require_session()
    response = jsonify(
        [moderation.flair_json(f) for f in moderation.available_flairs(current.user.id)]
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_image_url(value: str) -> bool:
    """Images are shown to other users: only https URLs, never javascript: or data: ones."""
    origin = origin_of(value)
    return origin is not None and origin.startswith("https://")


@bp.get("/list-consents")
def list_consents() -> Response:
    """Ours: the applications the user allowed, and what each may see."""
    current = sessions.require_session()
    listed = []
    for consent in oidc_store.list_consents(current.user.id):
        client = oidc_store.get_client(consent.client_id)
        listed.append(
            {
                "clientId": consent.client_id,
                "clientName": client.name if client else consent.client_id,
                "scopes": consent.scopes.split(),
                "createdAt": iso(consent.created_at),
                "updatedAt": iso(consent.updated_at),
            }
        )
    response = jsonify(listed)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/revoke-consent")
def revoke_consent() -> Response:
    """Ours: withdraw a consent; the application's tokens for this user stop working at once."""
    current = sessions.require_session()
    client_id = body.required_string(body.json_body(), "clientId", max_length=64)
    if not oidc_store.revoke_consent(current.user.id, client_id, get_runtime().now()):
        raise BadRequestError("No consent for this application", code="CONSENT_NOT_FOUND")
    audit.record(
        "consent.revoked", actor=current.user.id, subject=current.user.id, client=client_id
    )
    return jsonify({"status": True})
