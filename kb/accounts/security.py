"""Password hashing (argon2 via pwdlib) and random tokens stored as hashes."""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from pwdlib import PasswordHash

# argon2id with pwdlib's recommended cost (64 MiB, 3 passes): about 0.1 s a hash on one core, by design.
_hasher = PasswordHash.recommended()


def use_hasher(hasher: PasswordHash) -> None:
    """Hash new passwords with ``hasher`` from now on (verifying reads the parameters from each hash).

    For the test suite only, which creates thousands of users: it uses a cheap argon2id so that
    hashing does not dominate its run. Production never calls this."""
    global _hasher
    _hasher = hasher
    _dummy_hash.cache_clear()


@cache
def _dummy_hash() -> str:
    # Verified when the email is unknown, so a wrong email costs as much time as a wrong password.
    # Computed on first use: hashing at import would slow every CLI command down.
    return _hasher.hash("not-a-real-password-but-same-cost")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        _hasher.verify(password, _dummy_hash())
        return False
    return _hasher.verify(password, password_hash)


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """Tokens carry 256 random bits, so a fast hash is enough (and lets us look them up)."""
    return hashlib.sha256(token.encode()).hexdigest()
