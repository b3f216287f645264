"""Persistence of users and linked accounts.

:func:`sign_in_identity` creates or finds the user, links the account and opens the session in
one transaction: a failure anywhere leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from idp.connectors.base import UpstreamIdentity
from idp.models import Account, User, db
from idp.runtime import Randomness
from idp.sessions import store as sessions
from idp.users.linking import Action, KnownUser, decide, vouched_email


class SignInRefusedError(Exception):
    """The identity may not sign in; ``code`` becomes ``?error=`` on the error redirect."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SignInOutcome:
    user: User
    is_new_user: bool
    session_token: str | None  # None when an existing session linked another account


def _account_owner(provider_id: str, account_id: str) -> str | None:
    return db.session.scalar(
        select(Account.user_id).where(
            Account.provider_id == provider_id, Account.account_id == account_id
        )
    )


def _email_owner(email: str | None) -> KnownUser | None:
    if not email:
        return None
    row = db.session.execute(
        select(User.id, User.email_verified).where(User.email == email)
    ).first()
    return KnownUser(id=row.id, email_verified=row.email_verified) if row else None


def _new_account(
    user_id: str, identity: UpstreamIdentity, now: datetime, random: Randomness
) -> None:
    db.session.add(
        Account(
            id=random.identifier(),
            user_id=user_id,
            provider_id=identity.provider_id,
            account_id=identity.subject,
            scope=identity.scope,
            created_at=now,
            updated_at=now,
        )
    )


def _display_name(identity: UpstreamIdentity) -> str:
    if identity.name:
        return identity.name
    if identity.email:
        return identity.email.split("@", 1)[0]
    return identity.username or "User"


def sign_in_identity(
    identity: UpstreamIdentity,
    *,
    trust_email: bool,
    linking_user: str | None,
    now: datetime,
    random: Randomness,
    expires_in: int,
    ip_address: str | None,
    user_agent: str | None,
) -> SignInOutcome:
    """Resolve the identity to a user (by the linking rule) and open a session, atomically.

    Two callbacks racing to create the same user or account meet the unique constraints; the
    loser rolls back and decides again against what the winner committed.
    """
    for attempt in range(2):
        try:
            return _sign_in_once(
                identity,
                trust_email=trust_email,
                linking_user=linking_user,
                now=now,
                random=random,
                expires_in=expires_in,
                ip_address=ip_address,
                user_agent=user_agent,
            )
        except IntegrityError:
            db.session.rollback()
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _sign_in_once(
    identity: UpstreamIdentity,
    *,
    trust_email: bool,
    linking_user: str | None,
    now: datetime,
    random: Randomness,
    expires_in: int,
    ip_address: str | None,
    user_agent: str | None,
) -> SignInOutcome:
    decision = decide(
        account_owner=_account_owner(identity.provider_id, identity.subject),
        email_owner=_email_owner(identity.email),
        email_verified_upstream=identity.email_verified,
        provider_trusted_for_email=trust_email,
        linking_user=linking_user,
    )
    is_new = False
    if decision.action is Action.REFUSE:
        raise SignInRefusedError(decision.error or "unable_to_link_account")
    if decision.action is Action.CLAIM_EMAIL:
        assert decision.user_id is not None
        db.session.execute(
            update(User)
            .where(User.id == decision.user_id, User.email_verified.is_(False))
            .values(email=None, updated_at=now)
        )
    if decision.action in (Action.CREATE, Action.CLAIM_EMAIL):
        user = User(
            id=random.identifier(),
            name=_display_name(identity),
            email=identity.email,
            email_verified=vouched_email(
                email_verified_upstream=identity.email_verified,
                provider_trusted_for_email=trust_email,
            ),
            image=identity.image,
            created_at=now,
            updated_at=now,
        )
        db.session.add(user)
        db.session.flush()
        _new_account(user.id, identity, now, random)
        is_new = True
    else:
        assert decision.user_id is not None
        found = db.session.get(User, decision.user_id)
        if found is None:
            raise SignInRefusedError("unable_to_link_account")
        user = found
        if user.banned_at is not None:
            db.session.rollback()
            raise SignInRefusedError("account_suspended")
        if decision.action is Action.LINK:
            _new_account(user.id, identity, now, random)
    token = None
    if linking_user is None:
        token = sessions.new_session(
            user_id=user.id,
            now=now,
            expires_in=expires_in,
            random=random,
            ip_address=ip_address,
            user_agent=user_agent,
        ).token
    db.session.commit()
    return SignInOutcome(user=user, is_new_user=is_new, session_token=token)


def get_user(user_id: str) -> User | None:
    return db.session.get(User, user_id)


def list_accounts(user_id: str) -> list[Account]:
    return list(
        db.session.scalars(
            select(Account).where(Account.user_id == user_id).order_by(Account.created_at)
        )
    )


def unlink_account(user_id: str, account_id: str) -> str:
    """Remove one linked account (by its id). Returns "ok", "not_found" or "last_account".

    The count and the delete run in one transaction, with the user's row locked on PostgreSQL,
    so two concurrent unlinks cannot leave a user with no way to sign in.
    """
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
    accounts = list_accounts(user_id)
    # Better Auth's order: the last-account rule answers before the existence check.
    if len(accounts) <= 1:
        db.session.rollback()
        return "last_account"
    if not any(a.id == account_id for a in accounts):
        db.session.rollback()
        return "not_found"
    db.session.execute(delete(Account).where(Account.id == account_id, Account.user_id == user_id))
    db.session.commit()
    return "ok"


def update_profile(user: User, *, name: str | None, image: str | None, now: datetime) -> None:
    if name is not None:
        user.name = name
    if image is not None:
        user.image = image or None
    user.updated_at = now
    db.session.commit()
