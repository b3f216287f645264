"""Loopback fakes of the upstream OpenID Connect providers (Google, Twitch)."""

from tests.fakes.upstream import (
    OTHER_CLIENT_ID,
    OTHER_ISSUER,
    FakeGoogle,
    FakeProvider,
    FakeTwitch,
    FakeUser,
    Fault,
    RecordedBearerRequest,
    RecordedTokenRequest,
    parse_consent_form,
    pkce_pair,
)

__all__ = [
    "OTHER_CLIENT_ID",
    "OTHER_ISSUER",
    "FakeGoogle",
    "FakeProvider",
    "FakeTwitch",
    "FakeUser",
    "Fault",
    "RecordedBearerRequest",
    "RecordedTokenRequest",
    "parse_consent_form",
    "pkce_pair",
]
