"""Starting a sign-in at a provider, and finishing it at the callback.

:func:`start` validates where the browser may be sent back, records the pending sign-in and
returns the provider's authorization URL. :func:`finish` checks the callback against the
pending sign-in, has the connector verify the provider's answer, and resolves the user and
session. Every failure of :func:`finish` is a :class:`SignInFailedError` carrying the error code
and the URL to send the browser to: the callback never shows a raw error page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.exc import SQLAlchemyError

from idp.connectors.base import AuthorizationRequest, ConnectorError
from idp.errors import (
    ApiError,
    InvalidCallbackURLError,
    InvalidErrorCallbackURLError,
    InvalidNewUserCallbackURLError,
    ProviderNotFoundError,
)
from idp.models import db
from idp.ops.metrics import metrics
from idp.runtime import get_runtime
from idp.security.redirects import is_allowed_redirect
from idp.signin import state as pending_store
from idp.users import store as users

log = logging.getLogger(__name__)

STATE_BYTES = 32
NONCE_BYTES = 32
VERIFIER_BYTES = 48  # 64 characters, within RFC 7636's 43..128
MAX_STATE_LENGTH = 128


class ProviderUnavailableError(ApiError):
    status = 502
    code = "PROVIDER_UNAVAILABLE"
    message = "The sign-in provider could not be reached"


class SignInFailedError(Exception):
    def __init__(self, code: str, redirect_to: str) -> None:
        super().__init__(code)
        self.code = code
        self.redirect_to = redirect_to


@dataclass(frozen=True)
class Redirects:
    callback_url: str
    error_callback_url: str | None = None
    new_user_callback_url: str | None = None


@dataclass(frozen=True)
class Finished:
    redirect_to: str
    session_token: str | None
    user_id: str
    is_new_user: bool


def checked_redirects(
    callback_url: str | None,
    error_callback_url: str | None,
    new_user_callback_url: str | None,
) -> Redirects:
    """Refuse (403, before any redirect) every target that is not ours or a trusted origin's."""
    trusted = get_runtime().settings.all_trusted_origins
    for value, error in (
        (callback_url, InvalidCallbackURLError),
        (error_callback_url, InvalidErrorCallbackURLError),
        (new_user_callback_url, InvalidNewUserCallbackURLError),
    ):
        if value is not None and not is_allowed_redirect(value, trusted):
            raise error()
    # Like Better Auth, the default destination is the origin of the base URL.
    default = get_runtime().settings.base_origin
    return Redirects(callback_url or default, error_callback_url, new_user_callback_url)


def redirect_uri(provider_id: str) -> str:
    return f"{get_runtime().settings.base_url}/api/auth/callback/{provider_id}"


def default_error_url() -> str:
    return f"{get_runtime().settings.base_url}/api/auth/error"


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query (replacing same-named ones)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def start(
    *,
    provider_id: str,
    redirects: Redirects,
    browser_secret: str,
    login_hint: str | None = None,
    extra_scopes: tuple[str, ...] = (),
    linking_user: str | None = None,
) -> str:
    runtime = get_runtime()
    connector = runtime.connectors.get(provider_id)
    if connector is None:
        raise ProviderNotFoundError()
    state = runtime.random.token(STATE_BYTES)
    nonce = runtime.random.token(NONCE_BYTES)
    verifier = runtime.random.token(VERIFIER_BYTES) if connector.uses_pkce else None
    try:
        url = connector.authorization_url(
            AuthorizationRequest(
                redirect_uri=redirect_uri(provider_id),
                state=state,
                nonce=nonce,
                code_verifier=verifier,
                login_hint=login_hint,
                extra_scopes=extra_scopes,
            )
        )
    except ConnectorError as exc:
        log.warning(
            "sign-in start failed provider=%s code=%s detail=%s", provider_id, exc.code, exc.detail
        )
        raise ProviderUnavailableError() from None
    now = runtime.now()
    runtime.pending.purge_expired(now)
    runtime.pending.save(
        pending_store.new_pending(
            state=state,
            browser_secret=browser_secret,
            provider_id=provider_id,
            code_verifier=verifier,
            nonce=nonce,
            callback_url=redirects.callback_url,
            error_callback_url=redirects.error_callback_url,
            new_user_callback_url=redirects.new_user_callback_url,
            link_user_id=linking_user,
            now=now,
            ttl=runtime.settings.state_ttl,
        )
    )
    return url


def finish(
    *,
    provider_id: str,
    params: Mapping[str, str],
    browser_secret: str | None,
    signed_in_user: str | None,
    ip_address: str | None,
    user_agent: str | None,
) -> Finished:
    runtime = get_runtime()
    fallback = default_error_url()
    state = params.get("state", "")
    if not state or len(state) > MAX_STATE_LENGTH:
        raise SignInFailedError("state_not_found", fallback)
    pending = runtime.pending.find(state)
    if pending is None:
        raise SignInFailedError("state_mismatch", fallback)
    error_url = pending.error_callback_url or fallback
    # A state from another browser is refused without consuming it (login CSRF defence).
    if pending.provider_id != provider_id or not pending_store.is_bound_to(pending, browser_secret):
        raise SignInFailedError("state_mismatch", error_url)
    if not runtime.pending.consume(pending):  # another callback consumed it first
        raise SignInFailedError("state_mismatch", error_url)
    if pending.expires_at <= runtime.now():
        raise SignInFailedError("state_mismatch", error_url)
    if pending.link_user_id is not None and pending.link_user_id != signed_in_user:
        # The session that asked to link was signed out or replaced in the meantime.
        raise SignInFailedError("unable_to_link_account", error_url)
    connector = runtime.connectors.get(provider_id)
    if connector is None:
        raise SignInFailedError("oauth_provider_not_found", error_url)
    started = time.perf_counter()
    upstream_outcome = "ok"
    try:
        identity = connector.exchange(
            params=params,
            redirect_uri=redirect_uri(provider_id),
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
        )
    except ConnectorError as exc:
        upstream_outcome = exc.code
        log.warning(
            "sign-in failed provider=%s code=%s detail=%s", provider_id, exc.code, exc.detail
        )
        raise SignInFailedError(exc.code, error_url) from None
    except Exception:
        # An upstream answer we did not foresee must still end on the error page, not a 500.
        upstream_outcome = "internal_server_error"
        log.exception("sign-in failed unexpectedly provider=%s", provider_id)
        raise SignInFailedError("internal_server_error", error_url) from None
    finally:
        metrics().upstream.labels(provider_id, upstream_outcome).observe(
            time.perf_counter() - started
        )
    try:
        outcome = users.sign_in_identity(
            identity,
            trust_email=connector.trust_email,
            linking_user=pending.link_user_id,
            now=runtime.now(),
            random=runtime.random,
            expires_in=runtime.settings.session_expires_in,
            ip_address=ip_address,
            user_agent=user_agent,
        )
    except users.SignInRefusedError as exc:
        log.info("sign-in refused provider=%s code=%s", provider_id, exc.code)
        raise SignInFailedError(exc.code, error_url) from None
    except SQLAlchemyError:
        # Nothing was written (one transaction); the browser still lands on the error page.
        db.session.rollback()
        log.exception("sign-in could not be stored provider=%s", provider_id)
        raise SignInFailedError("internal_server_error", error_url) from None
    target = pending.callback_url
    if outcome.is_new_user and pending.new_user_callback_url:
        target = pending.new_user_callback_url
    return Finished(
        redirect_to=target,
        session_token=outcome.session_token,
        user_id=outcome.user.id,
        is_new_user=outcome.is_new_user,
    )
