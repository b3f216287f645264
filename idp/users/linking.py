"""Which user an upstream identity signs in as: the account-linking rule, as a pure function.

Accounts are keyed by (provider, upstream subject), never by email. A user's email counts as
verified only when a provider we trust for emails verified it. An email match links a new
provider to an existing user only when both sides are verified in that sense; otherwise:

- a trusted, verified newcomer claims the address from a user who never proved it (that user
  keeps their account, without the address), so nobody can squat an address through a provider
  we do not trust and then receive its owner's sign-in;
- anyone else is refused with ``account_not_linked`` rather than be handed an account that
  may not be theirs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Action(enum.Enum):
    SIGN_IN = "sign_in"  # the account exists: sign its user in
    LINK = "link"  # add the account to an existing user, then sign in (or finish a link)
    CREATE = "create"  # a new user with this account
    CLAIM_EMAIL = "claim_email"  # a new user, taking the address from an unverified holder
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    action: Action
    user_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class KnownUser:
    id: str
    email_verified: bool


def decide(
    *,
    account_owner: str | None,
    email_owner: KnownUser | None,
    email_verified_upstream: bool,
    provider_trusted_for_email: bool,
    linking_user: str | None,
) -> Decision:
    """Decide what a verified upstream identity does.

    ``account_owner``: the user already linked to this (provider, subject), if any.
    ``email_owner``: the user holding the identity's email address, if any.
    ``linking_user``: set when a signed-in user is linking another provider (link-social).
    """
    if linking_user is not None:
        if account_owner is None:
            return Decision(Action.LINK, linking_user)
        if account_owner == linking_user:
            return Decision(Action.SIGN_IN, linking_user)
        return Decision(Action.REFUSE, error="account_already_linked_to_different_user")
    if account_owner is not None:
        return Decision(Action.SIGN_IN, account_owner)
    if email_owner is None:
        return Decision(Action.CREATE)
    vouched = email_verified_upstream and provider_trusted_for_email
    if vouched and email_owner.email_verified:
        return Decision(Action.LINK, email_owner.id)
    if vouched:
        return Decision(Action.CLAIM_EMAIL, email_owner.id)
    return Decision(Action.REFUSE, error="account_not_linked")


def vouched_email(*, email_verified_upstream: bool, provider_trusted_for_email: bool) -> bool:
    """Whether a new user's email counts as verified: only a trusted provider's word counts."""
    return email_verified_upstream and provider_trusted_for_email
