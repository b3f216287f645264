"""Key material: generation per algorithm, and AES-GCM encryption of private keys at rest."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import ECKey, OKPKey, RSAKey

from idp.config import SigningAlg, decode_key_encryption_key

SigningJWK = RSAKey | ECKey | OKPKey
NONCE_BYTES = 12


class KeyDecryptionError(Exception):
    """A stored private key cannot be decrypted: wrong key-encryption key, or tampered data."""


def generate(alg: SigningAlg) -> SigningJWK:
    """A new key for ``alg``; its ``kid`` is its RFC 7638 thumbprint, unique by construction."""
    key: SigningJWK
    if alg == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    else:
        key = OKPKey.generate_key("Ed25519", private=True)
    key.ensure_kid()
    return key


def public_jwk(key: SigningJWK, alg: str) -> dict[str, Any]:
    """The public half as published in the JWKS (RFC 7517), with ``kid``, ``alg`` and ``use``."""
    jwk: dict[str, Any] = dict(key.as_dict(private=False))
    jwk.update({"kid": key.kid, "alg": alg, "use": "sig"})
    return jwk


def private_pem(key: SigningJWK) -> bytes:
    return key.as_pem(private=True)


def load_private(alg: str, pem: bytes, kid: str) -> SigningJWK:
    parameters: dict[str, str | list[str]] = {"kid": kid}
    if alg == "RS256":
        return RSAKey.import_key(pem, parameters)  # type: ignore[arg-type]
    if alg == "ES256":
        return ECKey.import_key(pem, parameters)  # type: ignore[arg-type]
    return OKPKey.import_key(pem, parameters)  # type: ignore[arg-type]


def kek_id(raw: bytes) -> str:
    """A short, non-secret name for a key-encryption key, stored beside what it encrypted."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"idp-kek-id:" + raw).digest()[:9]).decode()


class KeyEncryption:
    """The key-encryption keys: the current one encrypts, previous ones still decrypt.

    Each ciphertext is bound to its key's ``kid`` and algorithm as associated data, so a stored
    private key cannot be swapped onto another row unnoticed.
    """

    def __init__(self, current: str, previous: tuple[str, ...] = ()) -> None:
        keys = [decode_key_encryption_key(k) for k in (current, *previous)]
        if any(k is None for k in keys):
            raise ValueError("a key-encryption key must be 32 bytes, base64url-encoded")
        self._keys = {kek_id(k): k for k in keys if k is not None}
        self.current_id = kek_id(keys[0])  # type: ignore[arg-type]

    @staticmethod
    def _aad(kid: str, alg: str) -> bytes:
        return json.dumps(["idp-signing-key", kid, alg]).encode()

    def encrypt(self, plaintext: bytes, *, kid: str, alg: str) -> tuple[str, str]:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._keys[self.current_id]).encrypt(nonce, plaintext, self._aad(kid, alg))
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii"), self.current_id

    def decrypt(self, blob: str, *, kid: str, alg: str, kek: str) -> bytes:
        key = self._keys.get(kek)
        if key is None:
            raise KeyDecryptionError(
                f"signing key {kid} was encrypted with key-encryption key {kek}, which is not "
                "configured (IDP_KEY_ENCRYPTION_KEY / IDP_PREVIOUS_KEY_ENCRYPTION_KEYS)"
            )
        try:
            data = base64.urlsafe_b64decode(blob.encode("ascii"))
            return AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], self._aad(kid, alg))
        except (InvalidTag, ValueError) as exc:
            raise KeyDecryptionError(
                f"signing key {kid} does not decrypt: its stored ciphertext was altered"
            ) from exc
