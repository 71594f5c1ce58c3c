"""A client for the agent's local API (the CLI, the CNI plugin and the Docker driver use it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


class AgentClientError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AgentClient:
    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self._client = httpx.Client(
            # A unix socket: no TLS, so no CA bundle to load (that took ~20 ms per client).
            transport=httpx.HTTPTransport(uds=str(socket_path), verify=False),
            base_url="http://agent",
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise AgentClientError(503, f"cannot reach the agent at {self.socket_path}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text}
        if response.status_code >= 400:
            raise AgentClientError(response.status_code, str(body.get("error") or body))
        return body

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def counters(self) -> dict[str, Any]:
        return self._call("GET", "/counters")

    def probe(
        self, vport_id: str, destination: str, protocol: str, port: int = 0, timeout: float = 1.0
    ) -> Any:
        """A probe from a local endpoint's namespace: ``{"reached": bool, "detail": str}``."""
        body = {"vport_id": vport_id, "destination": destination, "protocol": protocol, "port": port,
                "timeout": timeout}  # fmt: skip
        return self._call("POST", "/probe", json=body)

    def attach(
        self,
        vport_id: str,
        mac: str,
        netns: str | None = None,
        ifname: str = "eth0",
        *,
        configure: bool = True,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"vport_id": vport_id, "mac": mac, "ifname": ifname, "configure": configure}
        if netns is not None:
            body["netns"] = netns
        return self._call("POST", "/endpoints", json=body)

    def reserve(self, **endpoint: Any) -> dict[str, Any]:
        """An endpoint created in the directory by name (uuid, name, enterprise, domain, zone,
        subnet, policy_groups, mac?, ip?), not plumbed yet."""
        return self._call("POST", "/runtime/reserve", json=endpoint)

    def ensure_subnet(self, **subnet: Any) -> dict[str, Any]:
        """A network's zone and subnet (enterprise, domain, zone, subnet, address, netmask),
        created in the directory when missing."""
        return self._call("POST", "/runtime/subnet", json=subnet)

    def release(self, uuid: str) -> dict[str, Any]:
        """The endpoint of ``uuid`` removed from the directory and this host (idempotent)."""
        return self._call("POST", "/runtime/del", json={"uuid": uuid})

    def detach(self, vport_id: str, mac: str | None = None) -> dict[str, Any]:
        params = {"mac": mac} if mac else None
        return self._call("DELETE", f"/endpoints/{vport_id}", params=params)


def agent_connected(socket_path: Path) -> bool:
    """Whether the agent at ``socket_path`` answers and has a session with a controller (until
    then it refuses attaches: a headless agent cannot have endpoints bound)."""
    if not socket_path.exists():
        return False
    try:
        with AgentClient(socket_path, timeout=2) as agent:
            return bool(agent.health().get("connected"))
    except AgentClientError:
        return False
