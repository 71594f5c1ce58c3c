"""The Docker plugin: a libnetwork remote NetworkDriver and IpamDriver (``-d overcast
--ipam-driver overcast``), a client of the local agent like the CNI plugin.

A Docker network maps to a directory subnet named by its options::

    docker network create -d overcast --ipam-driver overcast --subnet 10.10.1.0/24 \\
        -o enterprise=acme -o domain=wordpress -o zone=web -o subnet=web -o policy_groups=web acme-web

``-o create=true`` creates the zone and the subnet in the domain when they are missing.
``--subnet`` is the directory subnet's address (Docker asks the IPAM driver for a pool before it
tells the network driver anything). Addresses come from the directory: RequestAddress creates
the container and its vport (through the agent and the controller), Join plumbs a veth whose
peer dockerd moves into the container, Leave unplumbs it, ReleaseAddress removes the container
and the vport. The plugin must run in dockerd's network namespace (Join hands dockerd an
interface by name there). What it knows is kept in ``--state-dir`` so a restarted plugin
carries on. Errors are ``{"Err": "..."}`` (network driver calls) and ``{"Error": "..."}``
(IPAM calls: libnetwork reads that key there); both keys are always sent.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..agent.client import AgentClient, AgentClientError
from ..unix_socket import bind_private

MEDIA_TYPE = "application/vnd.docker.plugins.v1+json"
GATEWAY_REQUEST = "com.docker.network.gateway"
MAC_OPTION = "com.docker.network.endpoint.macaddress"
NAMES = ("enterprise", "domain", "zone", "subnet")


class PluginError(Exception):
    pass


class State:
    """Networks, pools, reservations and endpoints, written through to a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        data = json.loads(path.read_text()) if path.exists() else {}
        self.pools: dict[str, dict[str, str]] = data.get("pools", {})
        self.networks: dict[str, dict[str, Any]] = data.get("networks", {})
        self.reservations: dict[str, dict[str, str]] = data.get("reservations", {})  # address -> ...
        self.endpoints: dict[str, dict[str, str]] = data.get("endpoints", {})

    @contextmanager
    def change(self) -> Iterator[None]:
        """Mutate under the lock; written to disk when the block ends."""
        with self.lock:
            yield
            self.save()

    def save(self) -> None:
        data = {
            "pools": self.pools,
            "networks": self.networks,
            "reservations": self.reservations,
            "endpoints": self.endpoints,
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2))
        temporary.replace(self.path)


class Driver:
    """The protocol's operations (plain data in, plain data out; PluginError for ``Err``)."""

    def __init__(self, agent: AgentClient, state: State, netns: str) -> None:
        self.agent, self.state, self.netns = agent, state, netns

    # --- IPAM ------------------------------------------------------------------------------------

    def request_pool(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("V6"):
            raise PluginError("overcast: IPv6 pools are not supported")
        pool = body.get("Pool") or ""
        if not pool:
            raise PluginError("overcast: give the directory subnet's address with --subnet")
        network = ipaddress.IPv4Network(pool, strict=True)
        pool_id = f"overcast-{network}"
        with self.state.change():
            self.state.pools[pool_id] = {"pool": str(network), "gateway": str(next(network.hosts()))}
        return {"PoolID": pool_id, "Pool": str(network), "Data": {}}

    def release_pool(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.change():
            self.state.pools.pop(body.get("PoolID", ""), None)
        return {}

    def request_address(self, body: dict[str, Any]) -> dict[str, Any]:
        pool_id, options = body.get("PoolID", ""), body.get("Options") or {}
        pool = self.state.pools.get(pool_id)
        if pool is None:
            raise PluginError(f"overcast: unknown pool {pool_id}")
        prefix = ipaddress.IPv4Network(pool["pool"]).prefixlen
        if options.get("RequestAddressType") == GATEWAY_REQUEST:
            gateway = body.get("Address") or pool["gateway"]
            return {"Address": f"{gateway}/{prefix}", "Data": {}}
        network = next((n for n in self.state.networks.values() if n["pool_id"] == pool_id), None)
        if network is None:
            raise PluginError(f"overcast: pool {pool['pool']} belongs to no overcast network")
        mac = str(options.get(MAC_OPTION) or "")
        reservation = f"docker:{uuid.uuid4()}"
        request: dict[str, Any] = {
            "uuid": reservation,
            "name": f"docker-{mac.replace(':', '') or reservation[-12:]}",
            **{key: network[key] for key in NAMES},
            "policy_groups": network["policy_groups"],
        }
        if mac:
            request["mac"] = mac
        if body.get("Address"):
            request["ip"] = body["Address"]
        created = self._agent(self.agent.reserve, **request)
        if ipaddress.IPv4Address(created["ip"]) not in ipaddress.IPv4Network(pool["pool"]):
            self._agent(self.agent.release, reservation)
            raise PluginError(
                f"overcast: the directory subnet is not {pool['pool']} (it gave {created['ip']})"
            )
        with self.state.change():
            self.state.reservations[created["ip"]] = {
                "uuid": reservation,
                "vport_id": created["vport_id"],
                "mac": created["mac"],
                "pool_id": pool_id,
                "gateway": created["gateway"],
            }
        return {"Address": f"{created['ip']}/{created['prefix_length']}", "Data": {}}

    def release_address(self, body: dict[str, Any]) -> dict[str, Any]:
        address = str(body.get("Address") or "").split("/")[0]
        reservation = self.state.reservations.get(address)
        if reservation is not None:
            self._agent(self.agent.release, reservation["uuid"])
            with self.state.change():
                self.state.reservations.pop(address, None)
        return {}

    # --- the network driver ----------------------------------------------------------------------

    def create_network(self, body: dict[str, Any]) -> dict[str, Any]:
        options = (body.get("Options") or {}).get("com.docker.network.generic") or {}
        missing = [key for key in NAMES if not options.get(key)]
        if missing:
            raise PluginError(f"overcast: the network needs -o {' -o '.join(f'{k}=NAME' for k in missing)}")
        pools = [d.get("Pool") for d in body.get("IPv4Data") or []]
        pool_id = next((p for p, v in self.state.pools.items() if v["pool"] in pools), None)
        if pool_id is None:
            raise PluginError(
                "overcast: use --ipam-driver overcast with --subnet (the directory subnet's address)"
            )
        groups = [g for g in str(options.get("policy_groups", "")).split(",") if g]
        if str(options.get("create", "")).lower() in ("1", "true", "yes"):
            network = ipaddress.IPv4Network(self.state.pools[pool_id]["pool"])
            self._agent(
                self.agent.ensure_subnet,
                **{key: str(options[key]) for key in NAMES},
                address=str(network.network_address),
                netmask=str(network.netmask),
            )
        with self.state.change():
            self.state.networks[body["NetworkID"]] = {
                **{key: str(options[key]) for key in NAMES},
                "policy_groups": groups,
                "pool_id": pool_id,
            }
        return {}

    def delete_network(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.change():
            self.state.networks.pop(body.get("NetworkID", ""), None)
        return {}

    def create_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        interface = body.get("Interface") or {}
        address = str(interface.get("Address") or "").split("/")[0]
        reservation = self.state.reservations.get(address)
        if reservation is None:
            raise PluginError(f"overcast: {address or 'no address'} was not allocated by overcast IPAM")
        with self.state.change():
            self.state.endpoints[body["EndpointID"]] = {"address": address, **reservation}
        if not interface.get("MacAddress"):
            return {"Interface": {"MacAddress": reservation["mac"]}}
        return {}

    def delete_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.change():
            self.state.endpoints.pop(body.get("EndpointID", ""), None)
        return {}

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.state.endpoints.get(body.get("EndpointID", ""))
        if endpoint is None:
            raise PluginError(f"overcast: unknown endpoint {body.get('EndpointID')}")
        source = "ovd" + body["EndpointID"][:11]
        self._agent(
            self.agent.attach, endpoint["vport_id"], endpoint["mac"], self.netns, source, configure=False
        )
        return {
            "InterfaceName": {"SrcName": source, "DstPrefix": "eth"},
            "Gateway": endpoint["gateway"],
            "StaticRoutes": [],
        }

    def leave(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = self.state.endpoints.get(body.get("EndpointID", ""))
        if endpoint is not None:
            self._agent(self.agent.detach, endpoint["vport_id"], endpoint["mac"])
        return {}

    def _agent(self, call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return dict(call(*args, **kwargs))
        except AgentClientError as exc:
            raise PluginError(f"overcast: {exc}") from None


def _error(message: str) -> JSONResponse:
    return JSONResponse({"Err": message, "Error": message}, media_type=MEDIA_TYPE)


def create_app(driver: Driver) -> FastAPI:
    app = FastAPI(title="Overcast Docker plugin", openapi_url=None, docs_url=None, redoc_url=None)
    fixed = {
        "/Plugin.Activate": {"Implements": ["NetworkDriver", "IpamDriver"]},
        "/NetworkDriver.GetCapabilities": {"Scope": "local", "ConnectivityScope": "local"},
        "/IpamDriver.GetCapabilities": {"RequiresMACAddress": True, "RequiresRequestReplay": False},
        "/IpamDriver.GetDefaultAddressSpaces": {
            "LocalDefaultAddressSpace": "overcast",
            "GlobalDefaultAddressSpace": "overcast",
        },
        "/NetworkDriver.EndpointOperInfo": {"Value": {}},
        "/NetworkDriver.DiscoverNew": {},
        "/NetworkDriver.DiscoverDelete": {},
        "/NetworkDriver.ProgramExternalConnectivity": {},
        "/NetworkDriver.RevokeExternalConnectivity": {},
    }
    operations = {
        "/IpamDriver.RequestPool": driver.request_pool,
        "/IpamDriver.ReleasePool": driver.release_pool,
        "/IpamDriver.RequestAddress": driver.request_address,
        "/IpamDriver.ReleaseAddress": driver.release_address,
        "/NetworkDriver.CreateNetwork": driver.create_network,
        "/NetworkDriver.DeleteNetwork": driver.delete_network,
        "/NetworkDriver.CreateEndpoint": driver.create_endpoint,
        "/NetworkDriver.DeleteEndpoint": driver.delete_endpoint,
        "/NetworkDriver.Join": driver.join,
        "/NetworkDriver.Leave": driver.leave,
    }

    @app.post("/{call}")
    async def dispatch(call: str, request: Request) -> JSONResponse:
        path = f"/{call}"
        if path in fixed:
            return JSONResponse(fixed[path], media_type=MEDIA_TYPE)
        operation = operations.get(path)
        if operation is None:
            return _error(f"overcast: {path} is not supported")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            return _error(f"overcast: bad request body: {exc}")
        try:
            # The agent client blocks (it waits for the controller): off the event loop.
            result = await anyio.to_thread.run_sync(operation, body)
        except (PluginError, ValueError, KeyError) as exc:
            return _error(str(exc))
        return JSONResponse(result, media_type=MEDIA_TYPE)

    return app


def serve(socket_path: Path, agent_socket: Path, state_dir: Path) -> None:
    """Serve until interrupted, in this process's network namespace (dockerd's)."""
    import uvicorn

    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    netns = f"/proc/{os.getpid()}/ns/net"
    driver = Driver(AgentClient(agent_socket, timeout=60), State(state_dir / "docker-plugin.json"), netns)
    # Owner-only from its first instant: whoever connects drives the root agent (dockerd, the
    # only client, runs as root).
    listening = bind_private(socket_path)
    config = uvicorn.Config(create_app(driver), log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        listening.close()
        socket_path.unlink(missing_ok=True)  # dockerd must not find a dead plugin socket
