"""Key material and its encryption at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idp.config import generate_key_encryption_key
from idp.keys import crypto, lifecycle
from idp.keys.crypto import KeyDecryptionError, KeyEncryption

OLD, NEW = generate_key_encryption_key(), generate_key_encryption_key()


@pytest.mark.parametrize(("alg", "kty"), [("RS256", "RSA"), ("ES256", "EC"), ("EdDSA", "OKP")])
def test_generated_keys_publish_only_their_public_half(alg: str, kty: str) -> None:
    key = crypto.generate(alg)  # type: ignore[arg-type]
    jwk = crypto.public_jwk(key, alg)
    assert jwk["kty"] == kty
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert jwk["kid"] == key.thumbprint()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_each_key_gets_its_own_kid() -> None:
    assert crypto.generate("EdDSA").kid != crypto.generate("EdDSA").kid


def test_a_private_key_round_trips_through_encryption() -> None:
    key = crypto.generate("ES256")
    encryption = KeyEncryption(NEW)
    blob, kek = encryption.encrypt(crypto.private_pem(key), kid="k", alg="ES256")
    assert crypto.private_pem(key) not in blob.encode()
    restored = crypto.load_private(
        "ES256", encryption.decrypt(blob, kid="k", alg="ES256", kek=kek), "k"
    )
    assert restored.thumbprint() == key.thumbprint()
    assert restored.kid == "k"


def test_a_tampered_ciphertext_is_refused() -> None:
    encryption = KeyEncryption(NEW)
    blob, kek = encryption.encrypt(b"secret key", kid="k", alg="RS256")
    flipped = blob[:20] + ("A" if blob[20] != "A" else "B") + blob[21:]
    with pytest.raises(KeyDecryptionError, match="altered"):
        encryption.decrypt(flipped, kid="k", alg="RS256", kek=kek)


def test_a_ciphertext_moved_to_another_kid_is_refused() -> None:
    encryption = KeyEncryption(NEW)
    blob, kek = encryption.encrypt(b"secret key", kid="k1", alg="RS256")
    with pytest.raises(KeyDecryptionError):
        encryption.decrypt(blob, kid="k2", alg="RS256", kek=kek)


def test_an_unknown_key_encryption_key_is_named_in_the_error() -> None:
    blob, kek = KeyEncryption(OLD).encrypt(b"secret key", kid="k", alg="RS256")
    with pytest.raises(KeyDecryptionError, match="not configured"):
        KeyEncryption(NEW).decrypt(blob, kid="k", alg="RS256", kek=kek)


def test_previous_key_encryption_keys_still_decrypt() -> None:
    blob, kek = KeyEncryption(OLD).encrypt(b"secret key", kid="k", alg="RS256")
    assert KeyEncryption(NEW, (OLD,)).decrypt(blob, kid="k", alg="RS256", kek=kek) == b"secret key"


def test_promotion_waits_for_the_publish_time() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert not lifecycle.may_promote(created, created + timedelta(seconds=329), 330)
    assert lifecycle.may_promote(created, created + timedelta(seconds=330), 330)


def test_a_retired_key_outlives_every_token_it_may_still_sign() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert lifecycle.retirement_expiry(
        now, max_token_lifetime=900, refresh_interval=30
    ) == now + timedelta(seconds=930)
