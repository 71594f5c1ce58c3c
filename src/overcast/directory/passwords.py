"""Secrets: scrypt password hashes, API-key digests, the XREST header, csproot's first password.

Pure (no store): what authentication computes and compares.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from .errors import unauthorized

#: A password hash no password matches, checked for unknown users (see ``authenticate``).
UNKNOWN_USER_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 64


def key_digest(key: str) -> str:
    """What the store keeps of an API key: its SHA-256 (the key is 192 random bits, so a fast
    digest suffices; only the client holds the key itself)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


#: scrypt at these parameters takes 16 MiB for ~50 ms. Every one runs on this one thread: after
#: the first is freed glibc serves the next from the calling thread's arena and keeps it there,
#: so each worker thread that ever hashed held 16 MiB (a controller whose 40 agents logged in at
#: once: +75-90 MB peak, measured). One thread, one arena; a burst of logins waits its turn and
#: cannot exhaust memory. Made again in a forked child (its parent's thread is not there).
_hasher: ThreadPoolExecutor | None = None
_hasher_lock = threading.Lock()


def _forget_hasher() -> None:
    global _hasher
    _hasher = None


os.register_at_fork(after_in_child=_forget_hasher)


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    global _hasher
    with _hasher_lock:
        if _hasher is None:
            _hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrypt")
        executor = _hasher
    return executor.submit(hashlib.scrypt, secret, salt=salt, n=n, r=r, p=p).result()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password.encode(), salt, 2**14, 8, 1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = _scrypt(password.encode(), bytes.fromhex(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed.hex(), digest)


def decode_xrest(authorization: str | None) -> tuple[str, str]:
    if not authorization:
        raise unauthorized("The Authorization header is missing.")
    scheme, _, token = authorization.partition(" ")
    if scheme.upper() not in ("XREST", "BASIC"):
        raise unauthorized("Use the XREST authorization scheme.")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("The Authorization header is not valid base64.") from None
    user, sep, secret = decoded.partition(":")
    if not sep or not user:
        raise unauthorized("The Authorization header must carry user:secret.")
    return user, secret


def csproot_password_from_env() -> tuple[str, bool]:
    """The initial csproot password and whether it is the insecure default."""
    password = os.environ.get("OVERCAST_CSPROOT_PASSWORD")
    return (password, False) if password else ("csproot", True)
