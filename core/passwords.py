"""Passwords: argon2id hashes, the rules a new password meets, and random one-time values
(setup codes, session ids) kept only as their SHA-256."""

from __future__ import annotations

import gzip
import hashlib
import secrets
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import Invalid

MIN_LENGTH = 10
_HASHER = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)
_COMMON = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
# verified against when no account matches, so an unknown login name costs as long as a known one
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Does ``password`` match the stored hash? Without one, as long as a real check and False."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(_COMMON, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def check_new_password(password: str, login: str) -> None:
    """Refuse (422 ``weak_password``) a password shorter than ten characters, equal to or holding
    the login name, or one of the common passwords."""
    field = {"field": "password"}
    if len(password) < MIN_LENGTH:
        raise Invalid("weak_password", f"密码至少需要 {MIN_LENGTH} 个字符", details=field)
    if login and login.lower() in password.lower():
        raise Invalid("weak_password", "密码不能包含登录名", details=field)
    if password.lower() in common_passwords() or len(set(password)) < 3:
        raise Invalid("weak_password", "该密码过于常见，容易被猜中，请换一个", details=field)


def new_secret() -> str:
    """A random value for a setup code, a session cookie or a CSRF token."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
