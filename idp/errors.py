"""Typed errors, and the one place where errors become HTTP responses.

``/api/auth/*`` answers errors in Better Auth's shape, ``{"message": ..., "code": ...}``, with
Better Auth's status codes. Unexpected exceptions become a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error of the ``/api/auth`` surface. Subclasses fix status, code and message, and the
    OAuth error code it takes on the OAuth endpoints (:data:`OAUTH_JSON_PATHS`)."""

    status = 400
    code = "BAD_REQUEST"
    message = "Bad request"
    oauth_error = "invalid_request"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code

    def body(self) -> dict[str, str]:
        return {"message": self.message, "code": self.code}


class BadRequestError(ApiError):
    pass


class ValidationError(ApiError):
    code = "VALIDATION_ERROR"
    message = "Invalid input"


class MalformedJSONError(ApiError):
    code = "BAD_REQUEST"
    message = "Invalid JSON in request body"


class UnauthorizedError(ApiError):
    status = 401
    code = "UNAUTHORIZED"
    message = "Unauthorized"


class ForbiddenError(ApiError):
    status = 403
    code = "FORBIDDEN"
    message = "Forbidden"


class InvalidOriginError(ForbiddenError):
    code = "INVALID_ORIGIN"
    message = "Invalid origin"


class MissingOriginError(ForbiddenError):
    code = "MISSING_OR_NULL_ORIGIN"
    message = "Missing or null Origin"


class InvalidCallbackURLError(ForbiddenError):
    code = "INVALID_CALLBACK_URL"
    message = "Invalid callbackURL"


class InvalidErrorCallbackURLError(ForbiddenError):
    code = "INVALID_ERROR_CALLBACK_URL"
    message = "Invalid errorCallbackURL"


class InvalidNewUserCallbackURLError(ForbiddenError):
    code = "INVALID_NEW_USER_CALLBACK_URL"
    message = "Invalid newUserCallbackURL"


class SessionNotFreshError(ForbiddenError):
    code = "SESSION_NOT_FRESH"
    message = "Session is not fresh"


class NotFoundError(ApiError):
    status = 404
    code = "NOT_FOUND"
    message = "Not found"


class ProviderNotFoundError(NotFoundError):
    code = "PROVIDER_NOT_FOUND"
    message = "Provider not found"


class PayloadTooLargeError(ApiError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "Request body too large"


class UnsupportedMediaTypeError(ApiError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message = "Content-Type is required. Allowed types: application/json"


class ServiceUnavailableError(ApiError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    message = "Service temporarily unavailable"
    oauth_error = "temporarily_unavailable"


class InternalError(ApiError):
    status = 500
    code = "INTERNAL_SERVER_ERROR"
    message = "Internal server error"
    oauth_error = "server_error"


# The endpoints that OAuth clients call and read errors from as {"error", "error_description"}
# (RFC 6749 5.2, RFC 6750 3.1, RFC 7009, RFC 7662): whatever goes wrong there, even a rate
# limit or a database outage, is answered in that shape, with the status that says what it is.
OAUTH_JSON_PATHS = frozenset(
    {"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect", "/oauth2/userinfo"}
)


# Better Auth answers a known path with the wrong method as an unknown path: 404.
_HTTP_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: NotFoundError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
}


def _is_browser_page() -> bool:
    """The OpenID provider's pages that a person's browser shows (authorize, the chooser,
    consent, sign-out): their errors are pages too, not JSON."""
    return request.path.startswith("/oauth2/") and request.path not in OAUTH_JSON_PATHS


def failure_response(error: ApiError) -> Response:
    """An error the endpoint answers itself rather than by redirecting to a client (the
    database down, a bug, a provider that cannot be reached, a rate limit), as the endpoint's
    reader expects it: a page for a person, JSON for a program."""
    if _is_browser_page():
        from idp.api.pages import html  # the pages import the API, which imports this module

        return html(render_template("oidc_error.html", message=error.message), error.status)
    return api_error_response(error)


def api_error_response(error: ApiError) -> Response:
    """The error in the shape of the endpoint's surface: OAuth's on the OAuth endpoints,
    Better Auth's everywhere else."""
    if request.path in OAUTH_JSON_PATHS:
        body: dict[str, str] = {"error": error.oauth_error, "error_description": error.message}
    else:
        body = error.body()
    response = jsonify(body)
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    return response


class _OAuthHttpError(ApiError):
    """A Werkzeug error (a body too large, a wrong method) on an OAuth endpoint."""

    def __init__(self, error: HTTPException) -> None:
        super().__init__(error.name)
        self.status = error.code or 400


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return failure_response(error)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response | HTTPException:
        if request.path in OAUTH_JSON_PATHS and (error.code or 500) >= 400:
            response = api_error_response(_OAuthHttpError(error))
            for name, value in error.get_headers():
                if name == "Allow":  # a 405 says which methods would do
                    response.headers[name] = value
            return response
        if not _is_api_request():
            return error
        kind = _HTTP_ERRORS.get(error.code or 500, InternalError)
        return api_error_response(kind())

    @app.errorhandler(OperationalError)
    def handle_database_down(error: OperationalError) -> Response:
        log.error("database unavailable: %s", type(error.orig).__name__)
        return failure_response(ServiceUnavailableError())

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return failure_response(InternalError())
