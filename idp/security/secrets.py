"""Bearer secrets: generation, hashing for storage, and HMAC signatures for cookies.

Only hashes of bearer secrets are stored, so a read of the database yields nothing that can be
presented back to us. Every comparison of secret material is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy bearer token; no salt is needed at 256 bits of entropy."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def derive_key(secret: str, purpose: str) -> bytes:
    """A sub-key per purpose, so a signature made for one cookie is worthless for another."""
    return hmac.new(
        secret.encode("utf-8"), b"idp:" + purpose.encode("utf-8"), hashlib.sha256
    ).digest()


def sign(value: str, key: bytes) -> str:
    signature = b64url(hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest())
    return f"{value}.{signature}"


def unsign(signed: str, key: bytes) -> str | None:
    """The value of a string produced by :func:`sign`, or None if it was tampered with."""
    value, dot, signature = signed.rpartition(".")
    if not dot or not value:
        return None
    expected = sign(value, key).rpartition(".")[2]
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
        return None
    return value


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
