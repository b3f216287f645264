"""SQLAlchemy models, by domain. Only the persistence layer (``*/store.py``) uses the session."""

from idp.models.base import db
from idp.models.keys import SigningKey
from idp.models.oauth import (
    ClientAssertion,
    OAuthClient,
    OAuthCode,
    OAuthConsent,
    OAuthGrant,
    OAuthToken,
)
from idp.models.ops import RateLimit
from idp.models.presentation import AuditEvent, Badge, Flair, UserBadge
from idp.models.signin import SignInState
from idp.models.user import Account, Session, User

__all__ = [
    "Account",
    "AuditEvent",
    "Badge",
    "ClientAssertion",
    "Flair",
    "OAuthClient",
    "OAuthCode",
    "OAuthConsent",
    "OAuthGrant",
    "OAuthToken",
    "RateLimit",
    "Session",
    "SignInState",
    "SigningKey",
    "User",
    "UserBadge",
    "db",
]
