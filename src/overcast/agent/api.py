"""The agent's local API on a unix socket (default /run/overcast/agent.sock).

For the CNI plugin, the Docker driver and operators wiring endpoints by hand. JSON over HTTP;
errors are ``{"error": "..."}`` with a meaningful status (400 bad request, 409 refused by the
controller, 503 no controller session, 504 timed out).

    GET    /health                  liveness and session summary
    GET    /state                   the state dump (desired state, revision, session, dataplane)
    POST   /endpoints               {"vport_id", "mac", "netns"?, "ifname"?} -> the endpoint
    DELETE /endpoints/{vport_id}    detach (idempotent); ?mac= when the agent never held it
    POST   /runtime/add             a runtime's endpoint, created in the directory by name and
                                    plumbed here -> {"vport_id", "mac", "ip", "prefix_length",
                                    "gateway"}; a failure leaves nothing behind
    POST   /runtime/reserve         the same, in the directory only (plumbed later by /endpoints)
    POST   /runtime/subnet          a runtime network's zone and subnet, created when missing
    POST   /runtime/del             {"uuid"} -> removed from the directory and here (idempotent)
    POST   /runtime/check           {"mac", "ip"} -> 200 when the desired state runs it here
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..dataplane.base import Attachment
from ..protocol import controller_pb2 as pb
from ..unix_socket import bind_private
from .agent import Agent, AgentError, endpoint_json
from .probe import probe

DEFAULT_SOCKET = Path("/run/overcast/agent.sock")


MAC = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"


class AttachRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vport_id: str = Field(min_length=1)
    mac: str = Field(pattern=MAC)
    netns: str | None = None
    ifname: str = Field(default="eth0", min_length=1, max_length=15)
    configure: bool = True  # false: the runtime configures the interface (Docker)


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vport_id: str = Field(min_length=1)
    destination: IPv4Address
    protocol: Literal["tcp", "icmp"]
    port: int = Field(default=0, ge=0, le=65535)
    timeout: float = Field(default=1.0, gt=0, le=10)


class RuntimeReserve(BaseModel):
    """An endpoint in the directory, by name, not plumbed yet (Docker's IPAM asks first)."""

    model_config = ConfigDict(extra="forbid")

    uuid: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    enterprise: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    zone: str = Field(min_length=1)
    subnet: str = Field(min_length=1)
    policy_groups: list[str] = []
    mac: str | None = Field(default=None, pattern=MAC)
    ip: str | None = None

    def message(self) -> pb.EndpointCreate:
        return pb.EndpointCreate(
            enterprise=self.enterprise,
            domain=self.domain,
            zone=self.zone,
            subnet=self.subnet,
            policy_groups=self.policy_groups,
            name=self.name,
            uuid=self.uuid,
            mac=(self.mac or "").lower(),
            ip=self.ip or "",
        )


class RuntimeAdd(RuntimeReserve):
    netns: str = Field(min_length=1)
    ifname: str = Field(default="eth0", min_length=1, max_length=15)


def created_json(created: pb.EndpointResult) -> dict[str, Any]:
    return {
        "vport_id": created.vport_id,
        "mac": created.mac,
        "ip": created.ip,
        "prefix_length": created.prefix_length,
        "gateway": created.gateway,
    }


class RuntimeSubnet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enterprise: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    zone: str = Field(min_length=1)
    subnet: str = Field(min_length=1)
    address: str = Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}$")
    netmask: str = Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}$")


class RuntimeDel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uuid: str = Field(min_length=1, max_length=255)


class RuntimeCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mac: str = Field(pattern=MAC)
    ip: str | None = None


async def _parse(model: type[Any], request: Request, what: str = "request") -> Any:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise AgentError(400, f"invalid {what}: {problems}") from None


def create_app(agent: Agent) -> FastAPI:
    app = FastAPI(title="Overcast agent", version="1")

    @app.exception_handler(AgentError)
    async def _agent_error(_request: Request, exc: AgentError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "host_id": agent.host_id,
            "connected": agent.controller is not None,
            "controller": agent.controller,
            "applied_revision": agent.state.revision,
        }

    @app.get("/state")
    async def state() -> dict[str, Any]:
        return agent.dump()

    @app.get("/counters")
    async def counters() -> dict[str, Any]:
        """Packets and bytes each entry's rules and each default counted on this host."""
        dataplane = agent.dataplane
        counted = await asyncio.to_thread(dataplane.counters) if dataplane.blocking else dataplane.counters()
        return {"host_id": agent.host_id, "domains": counted}

    @app.get("/flows")
    async def flow_log(limit: int = 100) -> dict[str, Any]:
        """The most recent flow records this host's datapath logged (the ring: its newest
        last), with how many were logged and how many were not forwarded (rate limit)."""
        log = agent.flows
        return {
            "host_id": agent.host_id,
            "logged": log.logged,
            "not_forwarded": log.dropped_total,
            "records": [asdict(r) for r in log.recent(max(0, limit))],
        }

    @app.post("/probe")
    async def send_probe(request: Request) -> dict[str, Any]:
        """A probe packet from a local endpoint's namespace (``overcast policy verify``)."""
        body: ProbeRequest = await _parse(ProbeRequest, request, "probe")
        attachment = agent.dataplane.attachment(body.vport_id)
        if attachment is None or attachment.netns is None or agent.state.endpoint(body.vport_id) is None:
            raise AgentError(409, f"vport {body.vport_id} does not run here with a namespace to probe from")
        reached, detail = await asyncio.to_thread(
            probe, attachment.netns, str(body.destination), body.protocol, body.port, body.timeout
        )
        return {"reached": reached, "detail": detail}

    @app.post("/endpoints")
    async def attach(request: Request) -> JSONResponse:
        body: AttachRequest = await _parse(AttachRequest, request, "attach request")
        domain_id, endpoint = await agent.attach(
            Attachment(body.vport_id, body.mac.lower(), body.netns, body.ifname, body.configure)
        )
        return JSONResponse(endpoint_json(domain_id, endpoint, agent.state))

    @app.delete("/endpoints/{vport_id}")
    async def detach(vport_id: str, mac: str | None = None) -> dict[str, Any]:
        await agent.detach(vport_id, mac)
        return {"vport_id": vport_id, "detached": True}

    @app.post("/runtime/add")
    async def runtime_add(request: Request) -> dict[str, Any]:
        body: RuntimeAdd = await _parse(RuntimeAdd, request)
        return created_json(await agent.runtime_add(body.message(), body.netns, body.ifname))

    @app.post("/runtime/reserve")
    async def runtime_reserve(request: Request) -> dict[str, Any]:
        body: RuntimeReserve = await _parse(RuntimeReserve, request)
        return created_json(await agent.create_endpoint(body.message()))

    @app.post("/runtime/subnet")
    async def runtime_subnet(request: Request) -> dict[str, Any]:
        body: RuntimeSubnet = await _parse(RuntimeSubnet, request)
        await agent.ensure_subnet(pb.SubnetEnsure(**body.model_dump()))
        return {"ok": True}

    @app.post("/runtime/del")
    async def runtime_del(request: Request) -> dict[str, Any]:
        body: RuntimeDel = await _parse(RuntimeDel, request)
        return {"vport_id": await agent.runtime_del(body.uuid)}

    @app.post("/runtime/check")
    async def runtime_check(request: Request) -> dict[str, Any]:
        body: RuntimeCheck = await _parse(RuntimeCheck, request)
        for vport_id, (domain_id, endpoint) in agent.state.local.items():
            if endpoint.mac.lower() == body.mac.lower() and (body.ip is None or endpoint.ip == body.ip):
                return {"vport_id": vport_id, "domain_id": domain_id}
        raise AgentError(404, f"no endpoint with MAC {body.mac} runs on this host")

    return app


async def serve_local_api(agent: Agent, socket_path: Path) -> None:
    """Serve the local API until cancelled (the socket is owner-only: it is root's interface)."""
    import uvicorn

    # Owner-only from its first instant (no window between creation and a chmod).
    listening = bind_private(socket_path)
    config = uvicorn.Config(create_app(agent), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        await task
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        listening.close()
