"""The account-linking rule."""

from __future__ import annotations

from idp.users.linking import Action, KnownUser, decide, vouched_email


def test_a_known_account_signs_its_user_in_whatever_the_email() -> None:
    decision = decide(
        account_owner="u1",
        email_owner=KnownUser("u2", True),
        email_verified_upstream=True,
        provider_trusted_for_email=True,
        linking_user=None,
    )
    assert decision.action is Action.SIGN_IN and decision.user_id == "u1"


def test_a_new_identity_without_email_owner_creates_a_user() -> None:
    decision = decide(
        account_owner=None,
        email_owner=None,
        email_verified_upstream=False,
        provider_trusted_for_email=False,
        linking_user=None,
    )
    assert decision.action is Action.CREATE


def test_email_match_links_only_when_both_sides_are_vouched_for() -> None:
    decision = decide(
        account_owner=None,
        email_owner=KnownUser("u1", True),
        email_verified_upstream=True,
        provider_trusted_for_email=True,
        linking_user=None,
    )
    assert decision.action is Action.LINK
    assert decision.user_id == "u1"


def test_an_unvouched_newcomer_meeting_a_taken_address_is_refused() -> None:
    for upstream, trusted, local in [
        (True, False, True),
        (False, True, True),
        (False, False, False),
    ]:
        decision = decide(
            account_owner=None,
            email_owner=KnownUser("u1", local),
            email_verified_upstream=upstream,
            provider_trusted_for_email=trusted,
            linking_user=None,
        )
        assert decision.action is Action.REFUSE
        assert decision.error == "account_not_linked"


def test_a_vouched_newcomer_claims_an_address_its_holder_never_proved() -> None:
    decision = decide(
        account_owner=None,
        email_owner=KnownUser("u1", False),
        email_verified_upstream=True,
        provider_trusted_for_email=True,
        linking_user=None,
    )
    assert decision.action is Action.CLAIM_EMAIL
    assert decision.user_id == "u1"


def test_only_a_trusted_providers_verification_counts() -> None:
    assert vouched_email(email_verified_upstream=True, provider_trusted_for_email=True)
    assert not vouched_email(email_verified_upstream=True, provider_trusted_for_email=False)
    assert not vouched_email(email_verified_upstream=False, provider_trusted_for_email=True)


def test_linking_an_account_owned_by_another_user_is_refused() -> None:
    decision = decide(
        account_owner="u2",
        email_owner=None,
        email_verified_upstream=True,
        provider_trusted_for_email=True,
        linking_user="u1",
    )
    assert decision.error == "account_already_linked_to_different_user"


def test_linking_a_new_account_links_to_the_signed_in_user() -> None:
    decision = decide(
        account_owner=None,
        email_owner=KnownUser("u2", True),
        email_verified_upstream=True,
        provider_trusted_for_email=True,
        linking_user="u1",
    )
    assert decision.action is Action.LINK and decision.user_id == "u1"


def test_linking_an_account_already_linked_to_oneself_is_harmless() -> None:
    decision = decide(
        account_owner="u1",
        email_owner=None,
        email_verified_upstream=True,
        provider_trusted_for_email=True,
        linking_user="u1",
    )
    assert decision.action is Action.SIGN_IN
