"""A small client of the VSD API v6 wire protocol (what vspk does, without its object model).

It speaks exactly what bambou sends: XREST auth, ``X-Nuage-Organization``, JSON bodies, and
the ``X-Nuage-*`` listing headers. Errors raise :class:`VsdClientError` carrying the status
and the VSD error list, so callers can show the server's own words.
"""

from __future__ import annotations

import base64
import builtins
import json
from dataclasses import dataclass
from typing import Any

import httpx


def xrest(user: str, secret: str) -> str:
    """An ``Authorization`` value as bambou sends it: ``XREST base64(user:password-or-key)``."""
    return "XREST " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class VsdClientError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.errors = body.get("errors", []) if isinstance(body, dict) else []
        super().__init__(f"HTTP {status}: {self.describe()}")

    def describe(self) -> str:
        parts = []
        for error in self.errors:
            for description in error.get("descriptions", []):
                prop = f"{error.get('property')}: " if error.get("property") else ""
                parts.append(f"{prop}{description.get('description')}")
        return "; ".join(parts) or str(self.body)

    @property
    def property(self) -> str | None:
        return self.errors[0].get("property") if self.errors else None


@dataclass
class Page:
    items: list[dict[str, Any]]
    count: int


class VsdClient:
    """One logged-in session; thread-safe enough for one thread per client."""

    def __init__(
        self,
        url: str,
        user: str = "csproot",
        password: str = "csproot",
        organization: str = "csp",
        *,
        verify: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.base = url.rstrip("/") + "/nuage/api/v6"
        self.user = user
        self.organization = organization
        # httpx, the project's one HTTP client (the agent's unix-socket client needs it too).
        # trust_env off: a proxy or CA bundle in the environment must not redirect a session to
        # the directory the caller named.
        self.http = httpx.Client(verify=verify, timeout=timeout, trust_env=False)
        self.verify = verify
        self.timeout = timeout
        self.api_key: str | None = None
        self._password = password
        self.me: dict[str, Any] = {}

    def _auth(self, secret: str) -> dict[str, str]:
        return {
            "Authorization": xrest(self.user, secret),
            "X-Nuage-Organization": self.organization,
            "Content-Type": "application/json",
        }

    def login(self) -> dict[str, Any]:
        response = self.http.request(
            "GET", f"{self.base}/me", headers=self._auth(self._password), content="null"
        )
        self.me = self._check(response)[0]
        self.api_key = self.me["APIKey"]
        return self.me

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        if self.api_key is None:
            self.login()
        all_headers = self._auth(self.api_key or "")
        all_headers.update(headers or {})
        return self.http.request(
            method,
            f"{self.base}/{path.lstrip('/')}",
            headers=all_headers,
            content=json.dumps(body),
            params=params,
        )

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        if response.status_code >= 300:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise VsdClientError(response.status_code, body)
        if not response.content:
            return None
        return response.json()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Any request; its JSON answer (VsdClientError on an error status)."""
        return self._check(self.request(method, path, body))

    def get(self, path: str) -> dict[str, Any]:
        return self._check(self.request("GET", path))[0]

    def statistics(self, resource: str, object_id: str, **params: Any) -> dict[str, Any]:
        """VSD ``statistics`` of one object (``startTime``, ``endTime``, ``numberOfDataPoints``,
        ``metrics``: VSD's query parameters); the statistics object, ``statsData`` in it."""
        return self._check(self.request("GET", f"{resource}/{object_id}/statistics", params=params))[0]

    def list(
        self,
        path: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
    ) -> Page:
        headers = {}
        if filter:
            headers["X-Nuage-Filter"] = filter
        if order_by:
            headers["X-Nuage-OrderBy"] = order_by
        if page is not None:
            headers["X-Nuage-Page"] = str(page)
        if page_size is not None:
            headers["X-Nuage-PageSize"] = str(page_size)
        response = self.request("GET", path, headers=headers)
        return Page(self._check(response) or [], int(response.headers.get("X-Nuage-Count", 0)))

    def list_all(self, path: str, *, filter: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every object, page by page (as the vspk CLI does: until an empty page)."""
        items: builtins.list[dict[str, Any]] = []
        page = 0
        while True:
            batch = self.list(path, filter=filter, page=page, page_size=500).items
            if not batch:
                return items
            items.extend(batch)
            page += 1

    def count(self, path: str, *, filter: str | None = None) -> int:
        headers = {"X-Nuage-Filter": filter} if filter else {}
        response = self.request("HEAD", path, headers=headers)
        self._check(response)
        return int(response.headers.get("X-Nuage-Count", 0))

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._check(self.request("POST", path, body))[0]

    def create_many(self, path: str, bodies: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
        """Bulk create; returns the per-element ``{"status", "data"}`` answers."""
        return self._check(self.request("POST", path, bodies))["response"]

    def update(self, path: str, body: dict[str, Any], *, confirm: bool = False) -> dict[str, Any]:
        params = {"responseChoice": 1} if confirm else None
        return self._check(self.request("PUT", path, body, params=params))[0]

    def assign(self, path: str, ids: builtins.list[str]) -> None:
        self._check(self.request("PUT", path, ids))

    def delete(self, path: str, *, confirm: bool = True) -> None:
        params = {"responseChoice": 1} if confirm else None
        self._check(self.request("DELETE", path, params=params))
