"""Login throttling: a password that keeps failing for one account stops being checked.

Per (organization, user name) — whether or not the user exists, so the throttle itself tells
nothing — at most ``limit`` failed password checks in ``window`` seconds; past that, password
attempts are refused without a check until the window has passed since the last failure. API
keys are not throttled: a session that logged in keeps working while its account is attacked.
In memory, per API process (a determined attacker spreading over N processes gets N times the
attempts: still a handful a minute against scrypt's ~50 ms a guess).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class LoginThrottle:
    def __init__(self, limit: int = 5, window: float = 60.0, accounts: int = 10_000) -> None:
        self.limit, self.window, self.accounts = limit, window, accounts
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, organization: str, user: str) -> float:
        """Seconds before a password may be tried again for this account (0: now)."""
        key = (organization.lower(), user)
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(key)
            if failures is None:
                return 0.0
            while failures and failures[0] < now - self.window and len(failures) < self.limit:
                failures.popleft()
            if len(failures) < self.limit:
                return 0.0
            wait = failures[-1] + self.window - now
            if wait <= 0:
                del self._failures[key]
                return 0.0
            return wait

    def failed(self, organization: str, user: str) -> None:
        key = (organization.lower(), user)
        with self._lock:
            failures = self._failures.setdefault(key, deque(maxlen=self.limit))
            failures.append(time.monotonic())
            self._failures.move_to_end(key)
            while len(self._failures) > self.accounts:  # bounded: the oldest accounts go first
                self._failures.popitem(last=False)

    def succeeded(self, organization: str, user: str) -> None:
        with self._lock:
            self._failures.pop((organization.lower(), user), None)
