"""Password hashing (argon2) and encryption of account credentials at rest (Fernet)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.channels import Credentials
from core.errors import N_, Refusal

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


class WeakPassword(Refusal):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            N_("a password needs at least %(min)s characters"),
            params={"min": MIN_PASSWORD_LENGTH},
            code="password_weak",
        )
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_api_token() -> tuple[str, str]:
    """A fresh API token and the hash that is stored (the token itself is shown once)."""
    token = "pv_" + secrets.token_urlsafe(32)
    return token, hash_api_token(token)


def hash_api_token(token: str) -> str:
    # Tokens are long random strings: a fast hash is enough, and lets us look them up by hash.
    return hashlib.sha256(token.encode()).hexdigest()


class CredentialVault:
    """Encrypts account credentials with a key derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"portevoix.credentials", info=b"fernet").derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, credentials: Credentials) -> bytes:
        return self._fernet.encrypt(msgspec.json.encode(credentials))

    def decrypt(self, token: bytes) -> Credentials:
        try:
            return msgspec.json.decode(self._fernet.decrypt(token), type=Credentials)
        except InvalidToken as exc:
            raise ValueError("credentials cannot be decrypted with this SECRET_KEY") from exc


class MediaSigner:
    """Signed, expiring URLs for media files, so a network can fetch them without a session."""

    def __init__(self, secret_key: str) -> None:
        self._key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"portevoix.media", info=b"url").derive(
            secret_key.encode()
        )

    def signature(self, media_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def verify(self, media_id: str, expires: int, signature: str, *, now: float) -> bool:
        return expires >= now and hmac.compare_digest(self.signature(media_id, expires), signature)
