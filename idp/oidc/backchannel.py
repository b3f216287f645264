"""OpenID Connect Back-Channel Logout 1.0: when sessions end, tell the clients.

A client that registered a ``backchannel_logout_uri`` gets a logout token by POST for every
first-party session of ours that it was signed in from (its grants carry the session, the ID
token's ``sid``), when that session ends: a sign-out here or at ``/oauth2/logout``, a revoked
session, a ban, ``flask users revoke-sessions`` or a deleted user.

The tokens are built and signed in the request that ended the sessions; one sender thread per
process delivers them, so that a slow or unreachable client never holds up a sign-out. Section
2.8 leaves retries to the provider: a client that cannot be reached, or answers 5xx, 408 or
429, is tried again after 1, 4, 15 and 45 seconds, while the token is still valid (it lives 120 s).
A redirect is not followed. The outcome is logged and counted by client, never the token.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from flask import Flask, current_app
from sqlalchemy import select

from idp.keys import jose
from idp.models import OAuthClient, OAuthGrant, db
from idp.oidc import store
from idp.ops.metrics import metrics
from idp.runtime import get_runtime

log = logging.getLogger(__name__)

KEY = "idp.backchannel"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
JWT_TYPE = "logout+jwt"  # section 2.4, explicit typing (RFC 8725 3.11)
TOKEN_TTL = 120  # seconds: long enough for the client to receive it, short against replays
POST_TIMEOUT = 5.0
# Seconds to wait before each further attempt at a client that could not take the token (a
# transport error, 5xx, 408, 429): about a minute and a half in all with the timeouts, within the
# token's life, so that a client restarting for a deploy still hears of the logout.
RETRY_DELAYS = (1.0, 4.0, 15.0, 45.0)
QUEUE_CAPACITY = 1000
DRAIN_SECONDS = 10.0  # at exit, how long to go on sending what is queued


def logout_token_claims(
    *, issuer: str, client_id: str, subject: str, session_id: str, now: datetime, jti: str
) -> dict[str, Any]:
    """Section 2.4: iss, aud, iat, exp, jti, events, sub and sid; never a nonce."""
    issued = int(now.timestamp())
    return {
        "iss": issuer,
        "aud": client_id,
        "iat": issued,
        "exp": issued + TOKEN_TTL,
        "jti": jti,
        "sub": subject,
        "sid": session_id,
        "events": {EVENT: {}},
    }


@dataclass(frozen=True)
class Notice:
    """One client to tell that one of its sessions ended."""

    client_id: str
    uri: str
    session_id: str


@dataclass(frozen=True)
class Delivery:
    client_id: str
    uri: str
    token: str


@dataclass(frozen=True)
class Attempted:
    """What one attempt at a delivery came to: final, or to be tried again."""

    outcome: str  # delivered, refused, unreachable or error
    again: bool = False


def attempt_outcome(status: int) -> Attempted:
    """Section 2.8: 200 (204 is common too) means received; 400, that the client refused the
    token, and so does any other 4xx or a redirect (not followed). 5xx, 408 and 429 say that
    the client could not take it now: worth another attempt."""
    if status in (200, 204):
        return Attempted("delivered")
    if status >= 500 or status in (408, 429):
        return Attempted("unreachable", again=True)
    return Attempted("refused")


@dataclass
class _Pending:
    delivery: Delivery
    deadline: float  # monotonic time after which the token has expired: no attempt after it
    attempts: int = 0


def notices(
    user_id: str, *, session_id: str | None = None, keep_session: str | None = None
) -> list[Notice]:
    """The clients to tell when the user's sessions end (only ``session_id``, or all but
    ``keep_session``): one notice per client and session with a live grant."""
    query = (
        select(OAuthGrant.client_id, OAuthClient.backchannel_logout_uri, OAuthGrant.session_id)
        .join(OAuthClient, OAuthClient.client_id == OAuthGrant.client_id)
        .where(
            *store.session_grants(user_id, session_id=session_id, keep_session=keep_session),
            OAuthGrant.session_id.is_not(None),
            OAuthGrant.revoked_at.is_(None),
            OAuthClient.backchannel_logout_uri.is_not(None),
        )
        .distinct()
    )
    rows = db.session.execute(query)
    return [Notice(client, uri, sid) for client, uri, sid in rows if uri and sid]


def sessions_ended(
    user_id: str,
    now: datetime,
    *,
    session_id: str | None = None,
    keep_session: str | None = None,
    offline_too: bool = False,
) -> None:
    """Revoke what ending these sessions revokes, then tell the clients.

    The OpenID grants made from the sessions are revoked, except those with offline access
    (Core 11) unless ``offline_too`` (a ban, a deleted user: everything goes).
    """
    due = notices(user_id, session_id=session_id, keep_session=keep_session)
    store.revoke_session_grants(
        user_id, now, session_id=session_id, keep_session=keep_session, offline_too=offline_too
    )
    if due:
        send(user_id, due, now)


def send(user_id: str, due: list[Notice], now: datetime) -> None:
    runtime = get_runtime()
    alg, key = runtime.keys.signer("RS256")  # what every client can verify, as for ID tokens
    sender = sender_of(current_app)
    for notice in due:
        claims = logout_token_claims(
            issuer=runtime.settings.base_url,
            client_id=notice.client_id,
            subject=user_id,
            session_id=notice.session_id,
            now=now,
            jti=runtime.random.identifier(),
        )
        token = jose.sign(claims, key=key, alg=alg, typ=JWT_TYPE)
        sender.send(Delivery(notice.client_id, notice.uri, token))


def post_logout_token(uri: str, token: str) -> int:
    """POST the token as section 2.5 says; the HTTP status, or raise on a transport error."""
    response = requests.post(
        uri,
        data={"logout_token": token},
        timeout=POST_TIMEOUT,
        allow_redirects=False,  # section 2.8: a redirect is not an answer
        headers={"Cache-Control": "no-store"},
    )
    return response.status_code


class Sender:
    """A queue and one daemon thread that empties it, per process.

    The thread starts on first use, in the process that uses it: gunicorn forks its workers
    after the app is built, and a thread (or a queue's lock) does not survive a fork. A delivery
    counts as done (:meth:`wait`, the drain at exit) once it is delivered, refused, or given up.
    """

    def __init__(
        self,
        post: Callable[[str, str], int],
        record: Callable[[str], None],
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        token_ttl: float = TOKEN_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._post = post
        self._record = record
        self._retry_delays = retry_delays
        # The last attempt must start early enough to arrive before the token expires.
        self._lifetime = token_ttl - POST_TIMEOUT
        self._clock = clock
        self._lock = threading.Lock()
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[_Pending] = queue.Queue(QUEUE_CAPACITY)
        # Attempts to make again, soonest first (ties first come, first served). Kept here, not
        # in the thread, so that a thread started again finds them.
        self._later: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()

    def send(self, delivery: Delivery) -> None:
        try:
            self._started().put_nowait(_Pending(delivery, self._clock() + self._lifetime))
        except queue.Full:
            self._record("dropped")
            log.warning("back-channel logout queue full: dropped for client %s", delivery.client_id)

    def wait(self) -> None:
        """Until everything queued so far was delivered or given up (tests; a graceful stop)."""
        if self._pid == os.getpid():
            self._queue.join()

    def _started(self) -> queue.Queue[_Pending]:
        pid = os.getpid()
        if self._pid != pid or self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._pid != pid or self._thread is None or not self._thread.is_alive():
                    if self._pid != pid:
                        self._queue = queue.Queue(QUEUE_CAPACITY)
                        self._later = []  # the parent's, not this process's to send
                    self._thread = threading.Thread(
                        target=self._run, args=(self._queue,), name="backchannel", daemon=True
                    )
                    self._thread.start()
                    if self._pid != pid:
                        # A flask command (a ban, revoke-sessions) exits right after queueing.
                        atexit.register(self._drain, self._queue)
                    self._pid = pid
        return self._queue

    @staticmethod
    def _drain(deliveries: queue.Queue[_Pending]) -> None:
        """At interpreter exit: let the thread finish what is queued, for a bounded time."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while deliveries.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)

    def _run(self, deliveries: queue.Queue[_Pending]) -> None:
        later = self._later
        while True:
            pending = self._next(deliveries, later)
            if pending is None:
                continue  # a retry came due while waiting
            try:
                again_at = self._attempt(pending)
                if again_at is not None:
                    heapq.heappush(later, (again_at, next(self._order), pending))
                    continue
            except Exception:
                log.exception("back-channel logout: the outcome could not be counted")
            deliveries.task_done()

    def _next(
        self, deliveries: queue.Queue[_Pending], later: list[tuple[float, int, _Pending]]
    ) -> _Pending | None:
        """A new delivery first (a client that answers should not wait behind one that does
        not), then a retry that is due; else wait for whichever comes first."""
        try:
            return deliveries.get_nowait()
        except queue.Empty:
            pass
        if later and later[0][0] <= self._clock():
            return heapq.heappop(later)[2]
        try:
            return deliveries.get(timeout=max(0.0, later[0][0] - self._clock()) if later else None)
        except queue.Empty:
            return None

    def _attempt(self, pending: _Pending) -> float | None:
        """One attempt; when to make the next one, or None when this delivery is done."""
        delivery = pending.delivery
        if self._clock() > pending.deadline:  # it waited behind slow clients for too long
            log.warning(
                "back-channel logout to client %s: the token expired before it could be sent",
                delivery.client_id,
            )
            self._record("expired")
            return None
        pending.attempts += 1
        attempted = self._deliver(delivery)
        if attempted.again and pending.attempts <= len(self._retry_delays):
            again_at = self._clock() + self._retry_delays[pending.attempts - 1]
            if again_at <= pending.deadline:
                log.info(
                    "back-channel logout to client %s: attempt %d failed, again in %g s",
                    delivery.client_id,
                    pending.attempts,
                    self._retry_delays[pending.attempts - 1],
                )
                return again_at
        if attempted.again:
            log.warning(
                "back-channel logout to client %s: given up after %d attempt(s)",
                delivery.client_id,
                pending.attempts,
            )
        self._record(attempted.outcome)
        return None

    def _deliver(self, delivery: Delivery) -> Attempted:
        try:
            status = self._post(delivery.uri, delivery.token)
        except requests.RequestException as error:
            log.warning(
                "back-channel logout to client %s failed: %s",
                delivery.client_id,
                type(error).__name__,
            )
            return Attempted("unreachable", again=True)
        except Exception:
            log.exception("back-channel logout to client %s failed", delivery.client_id)
            return Attempted("error")
        log.info("back-channel logout to client %s: HTTP %s", delivery.client_id, status)
        return attempt_outcome(status)


def sender_of(app: Flask) -> Sender:
    sender: Sender = app.extensions[KEY]
    return sender


def make_sender(app: Flask, **options: Any) -> Sender:
    """The app's sender: real POSTs, outcomes counted in the app's metrics (``options`` go to
    :class:`Sender`: the tests shorten the retry delays)."""

    def record(outcome: str) -> None:
        metrics(app).backchannel_logouts.labels(outcome).inc()

    return Sender(post_logout_token, record, **options)


def init_app(app: Flask) -> None:
    app.extensions[KEY] = make_sender(app)
