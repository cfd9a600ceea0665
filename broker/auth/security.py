"""Password hashing (argon2) and opaque session tokens (only their SHA-256 is stored).

argon2 is deliberately slow (tens of milliseconds, 64 MiB): on the event loop fifty logins
would stall every other request behind them. It runs in a small dedicated thread pool instead
(argon2-cffi releases the GIL while hashing); the pool's size bounds the CPU and memory that
sign-ins can take, and extra logins queue for a thread without blocking anyone else.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
_pool: ThreadPoolExecutor | None = None
_pool_size = 2


def configure(threads: int) -> None:
    """Set the number of hashing threads (from settings, at app start)."""
    global _pool, _pool_size
    if threads != _pool_size and _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None
    _pool_size = threads


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="argon2")
    return _pool


def hash_password(password: str) -> str:
    """Blocking; for the CLI and tests. Request handlers use `hash_password_async`."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Blocking; request handlers use `verify_password_async`."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor(), hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_executor(), verify_password,
                                                            password_hash, password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
