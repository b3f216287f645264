from __future__ import annotations

from idp.security.secrets import derive_key, sign, token_hash, unsign


def test_signed_values_round_trip_and_tampering_is_detected() -> None:
    key = derive_key("s" * 40, "cookie:session_token")
    signed = sign("token-value", key)
    assert unsign(signed, key) == "token-value"
    for index in range(len(signed)):
        tampered = signed[:index] + ("A" if signed[index] != "A" else "B") + signed[index + 1 :]
        assert unsign(tampered, key) is None


def test_a_signature_for_one_purpose_is_worthless_for_another() -> None:
    signed = sign("v", derive_key("s" * 40, "cookie:state"))
    assert unsign(signed, derive_key("s" * 40, "cookie:session_token")) is None


def test_unsigned_or_malformed_values_are_refused() -> None:
    key = derive_key("s" * 40, "x")
    for value in ["", ".", "abc", ".sig", "v.", "v.é"]:
        assert unsign(value, key) is None


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
