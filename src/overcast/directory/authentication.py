"""Authentication: who a request's credentials name (XREST: a password or an API key).

A password costs a scrypt hash (~50 ms) and an unknown account costs the same; failed passwords
are throttled per account; a login issues an API key the store keeps only as a digest. An
in-process cache (10 s) spares each API-key request its lookups; a commit that revokes a user's
keys clears that user from it at once (another API process's cache keeps it up to 10 s).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, select

from .db import api_keys, credentials, objects
from .errors import VsdError, expired, unauthorized
from .objects import Obj, now_ms
from .passwords import UNKNOWN_USER_HASH, check_password, decode_xrest, key_digest
from .principals import SYSTEM, Principal
from .schema import REGISTRY
from .throttle import LoginThrottle

if TYPE_CHECKING:
    from .service import Directory, Operations


class Authenticator:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self._auth_cache: dict[tuple[str, str, str], tuple[Principal, float, int]] = {}
        self._auth_lock = threading.Lock()
        self.throttle = LoginThrottle()

    def forget_sessions(self, user_ids: set[str]) -> None:
        with self._auth_lock:
            for cache_key, (principal, _, _) in list(self._auth_cache.items()):
                if principal.user_id in user_ids:
                    del self._auth_cache[cache_key]

    def password_matches(self, organization: str, user_name: str, password: str) -> bool:
        """Whether ``password`` is the user's (start-up checks; not a login: no key, no cache)."""
        with self.directory._read(SYSTEM) as ops:
            enterprise = self._enterprise_by_org(ops, organization)
            if enterprise is None:
                return False
            cred = ops.tx.conn.execute(
                select(credentials).where(
                    credentials.c.enterprise_id == enterprise.id, credentials.c.user_name == user_name
                )
            ).first()
        return cred is not None and check_password(password, cred.password_hash)

    def _enterprise_by_org(self, conn_ops: Operations, organization: str) -> Obj | None:
        found = conn_ops.tx.select(
            and_(objects.c.kind == "enterprise", func.lower(objects.c.name) == organization.lower()),
            limit=1,
        )
        return found[0] if found else None

    def authenticate(
        self, organization: str | None, authorization: str | None, *, login: bool = False
    ) -> tuple[Principal, str | None, int | None]:
        """Check ``XREST`` credentials; return the principal and, for a login, its API key.

        An API key that has expired answers 419 (bambou then logs in again); anything else
        that does not authenticate answers 401.
        """
        user_name, secret = decode_xrest(authorization)
        if not organization:
            raise unauthorized("The X-Nuage-Organization header is missing.")
        cache_key = (organization.lower(), user_name, secret)
        if not login:
            with self._auth_lock:
                cached = self._auth_cache.get(cache_key)
            if cached and cached[1] > time.monotonic():
                if cached[2] and cached[2] < now_ms():
                    raise expired()
                return cached[0], secret, cached[2] or None
        with self.directory._read(SYSTEM) as ops:
            enterprise = self._enterprise_by_org(ops, organization)
            cred = None
            if enterprise is not None:
                cred = ops.tx.conn.execute(
                    select(credentials).where(
                        credentials.c.enterprise_id == enterprise.id,
                        credentials.c.user_name == user_name,
                    )
                ).first()
            if enterprise is None or cred is None:
                # The same work as a known user's wrong password: an unknown name must not
                # answer faster (measured before: 3 ms against 49 ms).
                self._check_throttle(organization, user_name)
                check_password(secret, UNKNOWN_USER_HASH)
                self.throttle.failed(organization, user_name)
                raise unauthorized("Unknown organization or credentials.")
            user = ops.tx.get(cred.user_id)
            key_row = ops.tx.conn.execute(
                select(api_keys).where(
                    api_keys.c.key == key_digest(secret), api_keys.c.user_id == cred.user_id
                )
            ).first()
        principal = Principal(
            user_id=cred.user_id,
            user_name=user_name,
            enterprise_id=enterprise.id,
            enterprise_name=enterprise.data.get("name", ""),
            role="CSPROOT" if enterprise.data.get("enterpriseType") == "CSP" else "ORGADMIN",
            is_operator=enterprise.data.get("enterpriseType") == "CSP",
        )
        if key_row is not None:
            if key_row.expires < now_ms():
                raise expired()
            expiry = int(key_row.expires)
            key: str | None = secret
        else:
            self._check_throttle(organization, user_name)
            if not check_password(secret, cred.password_hash):
                self.throttle.failed(organization, user_name)
                raise unauthorized("Unknown organization or credentials.")
            self.throttle.succeeded(organization, user_name)
            key, expiry = None, 0
        # Only once the secret proved right: a wrong one must not learn the account's state.
        if user is None or user.data.get("disabled"):
            raise unauthorized("This user is disabled.")
        with self._auth_lock:
            if len(self._auth_cache) > 10000:
                self._auth_cache.clear()
            self._auth_cache[cache_key] = (principal, time.monotonic() + 10, expiry)
        return principal, key, expiry or None

    def _check_throttle(self, organization: str, user_name: str) -> None:
        wait = self.throttle.retry_after(organization, user_name)
        if wait > 0:
            raise VsdError(
                429,
                "Too many failed logins",
                f"Too many failed logins for this account: try again in {int(wait) + 1} s.",
                code=2429,
            )

    def login(self, organization: str | None, authorization: str | None) -> dict[str, Any]:
        """``GET /me``: authenticate and return the user with an API key (new for a password)."""
        principal, key, expiry = self.authenticate(organization, authorization, login=True)
        if key is None:
            key = secrets.token_hex(24)
            expiry = now_ms() + int(self.directory.api_key_ttl * 1000)

            def work(ops: Operations) -> None:
                ops.tx.conn.execute(delete(api_keys).where(api_keys.c.expires < now_ms()))
                ops.tx.conn.execute(
                    insert(api_keys).values(key=key_digest(key), user_id=principal.user_id, expires=expiry)
                )

            self.directory._write(principal, work)
        with self.directory._read(principal) as ops:
            user = ops.tx.need(principal.user_id, "user")
        me = dict.fromkeys(REGISTRY.me_attrs)
        me.update({k: v for k, v in user.data.items() if k in me})
        me.update(
            ID=user.id,
            userName=principal.user_name,
            password=None,
            APIKey=key,
            APIKeyExpiry=expiry,
            enterpriseID=principal.enterprise_id,
            enterpriseName=principal.enterprise_name,
            role=principal.role,
            parentID=user.parent_id,
            parentType="enterprise",
        )
        return me
