"""Persistence of our OpenID provider: clients, consents, grants, codes and tokens.

Codes and refresh tokens are consumed with compare-and-swap updates, so a code is redeemed
once and a refresh token rotated once, however many requests race for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from idp.models import (
    ClientAssertion,
    OAuthClient,
    OAuthCode,
    OAuthConsent,
    OAuthGrant,
    OAuthToken,
    db,
    driver,
)
from idp.models.base import rows_affected
from idp.models.driver import DriverSQL, bind_time, read_json, read_time
from idp.models.oauth import ClientRules
from idp.oidc import rules
from idp.runtime import Randomness
from idp.security.secrets import token_hash
from idp.sessions.store import USER_COLUMNS_SQL, UserView, user_view

# The token endpoint's statements (find_client, the refresh exchange, spending and saving
# tokens) go to the driver's cursor (idp.models.driver): SQLAlchemy's per-execution work cost
# it more than the database did.

# -- clients ------------------------------------------------------------------------------------


def could_be_client_id(value: str) -> bool:
    """Ours are 32 alphanumerics; anything else that is not printable ASCII of at most 64
    characters is no client's, and must not reach the database (PostgreSQL refuses a NUL in
    a text parameter with an error, not a miss)."""
    return 0 < len(value) <= 64 and value.isascii() and value.isprintable()


def get_client(client_id: str) -> OAuthClient | None:
    if not could_be_client_id(client_id):
        return None
    return db.session.get(OAuthClient, client_id)


@dataclass(frozen=True)
class ClientView(ClientRules):
    """A registered client as the authorization server reads it: plain values."""

    client_id: str
    name: str
    secret_hash: str | None
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    scopes: str
    grant_types: list[str]
    first_party: bool
    created_at: datetime
    updated_at: datetime
    jwks: dict[str, Any] | None = None  # private_key_jwt: the client's public keys


_FIND_CLIENT = DriverSQL(
    """
SELECT client_id, name, secret_hash, token_endpoint_auth_method, redirect_uris,
       post_logout_redirect_uris, scopes, grant_types, first_party, created_at, updated_at, jwks
FROM oauth_clients WHERE client_id = {p}
"""
)


def find_client(client_id: str) -> ClientView | None:
    if not could_be_client_id(client_id):
        return None
    row = driver.fetch_one(db.session.connection(), _FIND_CLIENT, (client_id,))
    if row is None:
        return None
    return ClientView(
        client_id=row[0],
        name=row[1],
        secret_hash=row[2],
        token_endpoint_auth_method=row[3],
        redirect_uris=read_json(row[4]),
        post_logout_redirect_uris=read_json(row[5]),
        scopes=row[6],
        grant_types=read_json(row[7]),
        first_party=bool(row[8]),
        created_at=read_time(row[9]),
        updated_at=read_time(row[10]),
        jwks=read_json(row[11]) if row[11] is not None else None,
    )


def list_clients() -> list[OAuthClient]:
    return list(db.session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)))


def save_client(client: OAuthClient) -> None:
    db.session.add(client)
    db.session.commit()


def delete_client(client_id: str) -> bool:
    grants = select(OAuthGrant.id).where(OAuthGrant.client_id == client_id)
    db.session.execute(delete(OAuthToken).where(OAuthToken.grant_id.in_(grants)))
    db.session.execute(delete(OAuthCode).where(OAuthCode.grant_id.in_(grants)))
    db.session.execute(delete(OAuthGrant).where(OAuthGrant.client_id == client_id))
    db.session.execute(delete(OAuthConsent).where(OAuthConsent.client_id == client_id))
    db.session.execute(delete(ClientAssertion).where(ClientAssertion.client_id == client_id))
    deleted = rows_affected(
        db.session.execute(delete(OAuthClient).where(OAuthClient.client_id == client_id))
    )
    db.session.commit()
    return deleted == 1


def first_use_of_assertion(client_id: str, jti: str, expires_at: datetime) -> bool:
    """Record a client assertion's ``jti`` until ``expires_at``; False when it was seen before.

    Committed at once, before the request goes on: an assertion is spent by being presented
    with a valid signature, whatever the request then comes to. Two requests racing with the
    same assertion meet at the primary key, and one of them inserts nothing.
    """
    table = ClientAssertion.__table__
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(client_id=client_id, jti_hash=token_hash(jti), expires_at=expires_at)
        .on_conflict_do_nothing()
        # The row that went in, if one did (psycopg's rowcount says -1 for this INSERT).
        .returning(table.c.jti_hash)
    )
    inserted = db.session.connection().execute(statement).first() is not None
    db.session.commit()
    return inserted


# -- consent ------------------------------------------------------------------------------------


def granted_scopes(user_id: str, client_id: str) -> set[str]:
    consent = db.session.scalar(
        select(OAuthConsent).where(
            OAuthConsent.user_id == user_id, OAuthConsent.client_id == client_id
        )
    )
    return set(consent.scopes.split()) if consent else set()


def remember_consent(
    user_id: str, client_id: str, scopes: set[str], now: datetime, random: Randomness
) -> None:
    consent = db.session.scalar(
        select(OAuthConsent).where(
            OAuthConsent.user_id == user_id, OAuthConsent.client_id == client_id
        )
    )
    if consent is None:
        db.session.add(
            OAuthConsent(
                id=random.identifier(),
                user_id=user_id,
                client_id=client_id,
                scopes=" ".join(sorted(scopes)),
                created_at=now,
                updated_at=now,
            )
        )
    else:
        consent.scopes = " ".join(sorted(scopes | set(consent.scopes.split())))
        consent.updated_at = now
    db.session.commit()


def list_consents(user_id: str) -> list[OAuthConsent]:
    return list(db.session.scalars(select(OAuthConsent).where(OAuthConsent.user_id == user_id)))


def revoke_consent(user_id: str, client_id: str, now: datetime) -> bool:
    """Forget a consent, and revoke every grant the user gave that client."""
    removed = rows_affected(
        db.session.execute(
            delete(OAuthConsent).where(
                OAuthConsent.user_id == user_id, OAuthConsent.client_id == client_id
            )
        )
    )
    grants = select(OAuthGrant.id).where(
        OAuthGrant.user_id == user_id, OAuthGrant.client_id == client_id
    )
    _revoke_grants(grants, now)
    db.session.commit()
    return removed == 1


# -- grants and codes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRequest:
    client_id: str
    user_id: str
    session_id: str
    scope: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    claims: dict[str, Any]
    auth_time: datetime


def create_code(
    code: str, request: CodeRequest, now: datetime, ttl: int, random: Randomness
) -> None:
    grant = OAuthGrant(
        id=random.identifier(),
        client_id=request.client_id,
        user_id=request.user_id,
        session_id=request.session_id,
        scope=request.scope,
        claims=json.dumps(request.claims) if request.claims else None,
        auth_time=request.auth_time,
        created_at=now,
    )
    db.session.add(grant)
    db.session.flush()
    db.session.add(
        OAuthCode(
            code_hash=token_hash(code),
            grant_id=grant.id,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    db.session.commit()


@dataclass(frozen=True)
class RedeemedCode:
    code: OAuthCode
    grant: OAuthGrant


class CodeReusedError(Exception):
    """A spent code was presented again; every token issued from it has been revoked."""


def redeem_code(code: str, client_id: str, now: datetime) -> RedeemedCode | None:
    """Consume a code for ``client_id``: the one request whose update wins gets it.

    A code already consumed is reuse (RFC 6749 4.1.2; RFC 9700 4.5): its grant is revoked.
    """
    digest = token_hash(code)
    won = rows_affected(
        db.session.execute(
            update(OAuthCode)
            .where(
                OAuthCode.code_hash == digest,
                OAuthCode.client_id == client_id,
                OAuthCode.used_at.is_(None),
                OAuthCode.expires_at > now,
            )
            .values(used_at=now)
        )
    )
    row = db.session.scalar(
        select(OAuthCode).where(OAuthCode.code_hash == digest, OAuthCode.client_id == client_id)
    )
    if not won:
        if row is not None and row.used_at is not None:
            _revoke_grants(select(OAuthGrant.id).where(OAuthGrant.id == row.grant_id), now)
            db.session.commit()
            raise CodeReusedError()
        db.session.rollback()
        return None
    db.session.commit()
    assert row is not None
    grant = db.session.get(OAuthGrant, row.grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    return RedeemedCode(code=row, grant=grant)


def create_grant(
    client_id: str, user_id: str | None, scope: str, now: datetime, random: Randomness
) -> OAuthGrant:
    grant = OAuthGrant(
        id=random.identifier(), client_id=client_id, user_id=user_id, scope=scope, created_at=now
    )
    db.session.add(grant)
    db.session.flush()
    return grant


def _revoke_grants(grant_ids: Any, now: datetime) -> None:
    db.session.execute(
        update(OAuthGrant)
        .where(OAuthGrant.id.in_(grant_ids), OAuthGrant.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.execute(
        update(OAuthToken)
        .where(OAuthToken.grant_id.in_(grant_ids), OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_grant(grant_id: str, now: datetime) -> None:
    _revoke_grants(select(OAuthGrant.id).where(OAuthGrant.id == grant_id), now)
    db.session.commit()


def session_grants(
    user_id: str, *, session_id: str | None = None, keep_session: str | None = None
) -> list[ColumnElement[bool]]:
    """The conditions that select a user's grants made from ending sessions: every session,
    only ``session_id``, or all but ``keep_session``."""
    conditions = [OAuthGrant.user_id == user_id]
    if session_id is not None:
        conditions.append(OAuthGrant.session_id == session_id)
    if keep_session is not None:
        conditions.append(OAuthGrant.session_id != keep_session)
    return conditions


def revoke_session_grants(
    user_id: str,
    now: datetime,
    *,
    session_id: str | None = None,
    keep_session: str | None = None,
    offline_too: bool = False,
) -> None:
    """When sessions end: revoke the grants made from them (:func:`session_grants`), except
    those with offline access (Core 11) unless ``offline_too``."""
    grants = select(OAuthGrant.id).where(
        *session_grants(user_id, session_id=session_id, keep_session=keep_session)
    )
    if not offline_too:
        grants = grants.where(OAuthGrant.scope.not_like("%offline_access%"))
    _revoke_grants(grants, now)
    db.session.commit()


# -- tokens -------------------------------------------------------------------------------------


_INSERT_TOKEN = DriverSQL(
    """
INSERT INTO oauth_tokens (id, access_token_hash, refresh_token_hash, grant_id, client_id,
                          user_id, scope, issued_at, expires_at, refresh_expires_at)
VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})
"""
)


def save_token(
    *,
    access_token: str,
    refresh_token: str | None,
    grant_id: str,
    client_id: str,
    user_id: str | None,
    scope: str,
    now: datetime,
    access_ttl: int,
    refresh_ttl: int,
    random: Randomness,
) -> None:
    """Insert the new tokens (hashes only) and commit, with a refresh token spent before."""
    connection = db.session.connection()
    refresh_expires = now + timedelta(seconds=refresh_ttl) if refresh_token else None
    driver.execute(
        connection,
        _INSERT_TOKEN,
        (
            random.identifier(),
            token_hash(access_token),
            token_hash(refresh_token) if refresh_token else None,
            grant_id,
            client_id,
            user_id,
            scope,
            bind_time(connection, now),
            bind_time(connection, now + timedelta(seconds=access_ttl)),
            bind_time(connection, refresh_expires),
        ),
    )
    db.session.commit()


def find_access_token(token: str) -> OAuthToken | None:
    return db.session.scalar(
        select(OAuthToken).where(OAuthToken.access_token_hash == token_hash(token))
    )


def find_refresh_token(token: str) -> OAuthToken | None:
    return db.session.scalar(
        select(OAuthToken).where(OAuthToken.refresh_token_hash == token_hash(token))
    )


class RefreshReusedError(Exception):
    """A spent refresh token was presented after the grace window: the grant is revoked."""


@dataclass(frozen=True)
class RefreshExchange:
    """A refresh token being exchanged, with what the new tokens need from its grant and user."""

    token_id: str
    grant_id: str
    client_id: str
    scope: str
    grant_revoked: bool
    claims: str | None  # the grant's "claims" request parameter, as JSON
    auth_time: datetime | None
    session_id: str | None
    user: UserView | None
    spent: bool  # spent already, by a request less than the grace window ago


_EXCHANGE = DriverSQL(
    """
SELECT t.id, t.grant_id, t.client_id, t.scope, t.refresh_expires_at, t.refreshed_at,
       t.revoked_at, g.revoked_at, g.claims, g.auth_time, g.session_id,
       {users}
FROM oauth_tokens t
JOIN oauth_grants g ON g.id = t.grant_id
LEFT JOIN users u ON u.id = t.user_id
WHERE t.refresh_token_hash = {p} AND t.client_id = {p}
""",
    users=USER_COLUMNS_SQL,
)
# The compare-and-swap that spends a refresh token: one request wins it.
_SPEND = DriverSQL(
    """
UPDATE oauth_tokens SET refreshed_at = {p}
WHERE id = {p} AND refreshed_at IS NULL AND revoked_at IS NULL AND refresh_expires_at > {p}
"""
)
_SPENT = DriverSQL("SELECT refreshed_at, revoked_at FROM oauth_tokens WHERE id = {p}")


def find_refresh_exchange(
    token: str, client_id: str, now: datetime, grace: int
) -> RefreshExchange | None:
    """The exchange a refresh token opens for ``client_id``; None when it cannot be used.

    Reads only: :func:`spend_refresh_token` spends it in the transaction that saves the new
    tokens, so that a write lock (SQLite's is for the whole database) is held for two
    statements. A token its client spent less than ``grace`` seconds ago (two tabs refreshing
    at once) is let through; any later reuse revokes the whole grant.
    """
    row = driver.fetch_one(db.session.connection(), _EXCHANGE, (token_hash(token), client_id))
    if row is None or row[6] is not None:
        return None  # unknown, another client's, or revoked
    refresh_expires_at, refreshed_at = read_time(row[4]), read_time(row[5])
    if refresh_expires_at is None or refresh_expires_at <= now:
        return None
    if refreshed_at is not None and not rules.reuse_forgiven(refreshed_at, now, grace):
        _revoke_grants(select(OAuthGrant.id).where(OAuthGrant.id == row[1]), now)
        db.session.commit()
        raise RefreshReusedError()
    user = user_view(row, 11) if row[11] is not None else None
    return RefreshExchange(
        token_id=row[0],
        grant_id=row[1],
        client_id=row[2],
        scope=row[3],
        grant_revoked=row[7] is not None,
        claims=row[8],
        auth_time=read_time(row[9]),
        session_id=row[10],
        user=user,
        spent=refreshed_at is not None,
    )


def spend_refresh_token(exchange: RefreshExchange, now: datetime, grace: int) -> bool:
    """Spend the exchange's refresh token (uncommitted: :func:`save_token` commits it with the
    new tokens). True when this request may issue them: it won the compare-and-swap, or the
    token was spent by a request that raced it less than ``grace`` seconds ago."""
    if exchange.spent:
        return True  # let through at read time, within the grace window
    connection = db.session.connection()
    moment = bind_time(connection, now)
    if driver.execute(connection, _SPEND, (moment, exchange.token_id, moment)) == 1:
        return True
    raced = driver.fetch_one(connection, _SPENT, (exchange.token_id,))
    if raced is None or raced[1] is not None or raced[0] is None:
        return False
    return rules.reuse_forgiven(read_time(raced[0]), now, grace)


def revoke_token(row: OAuthToken, now: datetime, *, whole_grant: bool) -> None:
    """RFC 7009: revoking a refresh token also revokes the grant's access tokens (2.1)."""
    if whole_grant:
        _revoke_grants(select(OAuthGrant.id).where(OAuthGrant.id == row.grant_id), now)
    else:
        # The access token alone: it expires now; its refresh token (same row) lives on.
        db.session.execute(update(OAuthToken).where(OAuthToken.id == row.id).values(expires_at=now))
    db.session.commit()


def grant_of(row: OAuthToken) -> OAuthGrant | None:
    return db.session.get(OAuthGrant, row.grant_id)


# -- housekeeping -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    tokens: int
    codes: int
    grants: int
    assertions: int  # private_key_jwt jtis whose assertions have expired


def prune(now: datetime) -> Pruned:
    """Delete what can no longer be used, and what reuse detection no longer needs.

    A token row goes once its access token and its refresh token (if any) have both expired: a
    spent refresh token is kept until then, so that presenting it again still revokes its
    grant. A code goes once expired (used or not), a grant once nothing of it is left.
    """
    tokens = rows_affected(
        db.session.execute(
            delete(OAuthToken).where(
                OAuthToken.expires_at <= now,
                (OAuthToken.refresh_expires_at.is_(None)) | (OAuthToken.refresh_expires_at <= now),
            )
        )
    )
    codes = rows_affected(db.session.execute(delete(OAuthCode).where(OAuthCode.expires_at <= now)))
    orphaned = select(OAuthGrant.id).where(
        ~select(OAuthToken.id).where(OAuthToken.grant_id == OAuthGrant.id).exists(),
        ~select(OAuthCode.code_hash).where(OAuthCode.grant_id == OAuthGrant.id).exists(),
    )
    grants = rows_affected(
        db.session.execute(
            delete(OAuthGrant)
            .where(OAuthGrant.id.in_(orphaned))
            .execution_options(synchronize_session=False)
        )
    )
    assertions = rows_affected(
        db.session.execute(delete(ClientAssertion).where(ClientAssertion.expires_at <= now))
    )
    db.session.commit()
    return Pruned(tokens=tokens, codes=codes, grants=grants, assertions=assertions)
