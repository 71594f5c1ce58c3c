"""Running the controller: the gRPC server (grpcio asyncio), TLS, and the process entry point."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from ..directory.controller_interface import Directory, Principal, VsdError, open_directory
from ..process import until_stopped
from ..protocol import SERVER_OPTIONS
from ..protocol import controller_pb2 as pb
from .flows import matches
from .service import ControllerService

log = logging.getLogger("overcast.controller")

SERVICE = "overcast.v1.Controller"


@dataclass
class ControllerConfig:
    database: str | None = None
    state_dir: Path = Path("/var/lib/overcast")
    listen: str = "127.0.0.1:7406"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: CA that signs agent certificates: with it, agents must present one (mutual TLS) and
    #: their host identity is the certificate's common name.
    tls_client_ca: Path | None = None
    poll_interval: float = 0.025
    host_grace: float = 30.0
    controller_id: str | None = None
    #: The most hosts the directory records; a Hello from one more is refused.
    max_hosts: int = 10_000
    #: Serve Prometheus metrics here (HOST:PORT).
    metrics_listen: str | None = None
    stats_flush_interval: float = 10.0


def _serialize(message: Any) -> bytes:
    """Responses may be pre-encoded (shared snapshot pieces, see protocol.codec)."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def certificate_identity(context: Any) -> str | None:
    """The client certificate's common name (the host ID) under mutual TLS."""
    names = context.auth_context().get("x509_common_name")
    return names[0].decode() if names else None


def server_credentials(config: ControllerConfig) -> grpc.ServerCredentials | None:
    if config.tls_cert is None:
        return None
    if config.tls_key is None:
        raise ValueError("--tls-cert needs --tls-key")
    pair = (config.tls_key.read_bytes(), config.tls_cert.read_bytes())
    if config.tls_client_ca is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials(
        [pair], root_certificates=config.tls_client_ca.read_bytes(), require_client_auth=True
    )


def build_server(
    service: ControllerService, listen: str, credentials: grpc.ServerCredentials | None
) -> tuple[grpc.aio.Server, int]:
    async def caller(context: Any) -> Principal:
        """The directory user a Status or Explain call carries in its metadata (as bambou
        sends it: ``authorization: XREST ...``, ``x-nuage-organization``)."""
        metadata = dict(context.invocation_metadata() or ())
        try:
            principal, _, _ = await asyncio.to_thread(
                service.directory.authenticate,
                metadata.get("x-nuage-organization"),
                metadata.get("authorization"),
            )
        except VsdError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.description)
            raise
        return principal

    async def status(_request: pb.StatusRequest, context: Any) -> pb.StatusReply:
        principal = await caller(context)
        if not principal.is_operator:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "only the operator sees every host")
        return service.status()

    async def explain(request: pb.ExplainRequest, context: Any) -> pb.ExplainReply:
        principal = await caller(context)
        outside = request.source_address or request.destination_address
        if outside:
            problem = _outside_problem(request)
            if problem:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for vport_id in (request.source_vport, request.destination_vport):
            if not vport_id and outside:
                continue
            try:  # the caller's own view: another tenant's vport does not exist for it
                await asyncio.to_thread(service.directory.get, principal, "vports", vport_id)
            except VsdError:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"vport {vport_id!r} does not exist")
        try:
            return service.explain(request)
        except LookupError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            raise  # abort raises; this keeps type checkers honest

    async def flows(request: pb.FlowsRequest, context: Any) -> AsyncIterator[pb.FlowRecord]:
        """The kept records that match (what the caller may see), then, with follow, new ones."""
        principal = await caller(context)
        if request.verdict and request.verdict.upper() not in ("ALLOW", "DENY"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "verdict is ALLOW or DENY")
        hub = service.flows
        queue: asyncio.Queue[pb.FlowRecord] | None = None
        if request.follow:  # subscribed before the backlog is read: nothing falls in between
            queue = asyncio.Queue()
            hub.followers.add(queue)
        try:
            for record in hub.recent(principal, request):
                yield record
            while queue is not None:
                record = await queue.get()
                if hub.visible(principal, record) and matches(record, request):
                    yield record
        finally:
            if queue is not None:
                hub.followers.discard(queue)

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Session": grpc.stream_stream_rpc_method_handler(
                service.session,
                request_deserializer=pb.AgentMessage.FromString,
                response_serializer=_serialize,
            ),
            "Status": grpc.unary_unary_rpc_method_handler(
                status,
                request_deserializer=pb.StatusRequest.FromString,
                response_serializer=_serialize,
            ),
            "Explain": grpc.unary_unary_rpc_method_handler(
                explain,
                request_deserializer=pb.ExplainRequest.FromString,
                response_serializer=_serialize,
            ),
            "Flows": grpc.unary_stream_rpc_method_handler(
                flows,
                request_deserializer=pb.FlowsRequest.FromString,
                response_serializer=_serialize,
            ),
        },
    )
    server = grpc.aio.server(options=SERVER_OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    if credentials is None:
        port = server.add_insecure_port(listen)
    else:
        port = server.add_secure_port(listen, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    return server, port


def _outside_problem(request: pb.ExplainRequest) -> str | None:
    """An outside address replaces exactly one vport, and is an IPv4 address."""
    if request.source_address and request.destination_address:
        return "one side of a flow is a vport: give an outside address for one side only"
    if (request.source_address and request.source_vport) or (
        request.destination_address and request.destination_vport
    ):
        return "give a vport or an outside address for each side, not both"
    try:
        ipaddress.IPv4Address(request.source_address or request.destination_address)
    except ValueError:
        return f"{request.source_address or request.destination_address!r} is not an IPv4 address"
    return None


async def run_controller(
    config: ControllerConfig,
    *,
    directory: Directory | None = None,
    started: Callable[[ControllerService, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM when run as a process)."""
    if directory is None:
        directory = await asyncio.to_thread(open_directory, config.database, config.state_dir)
    credentials = server_credentials(config)
    service = ControllerService(
        directory,
        controller_id=config.controller_id,
        poll_interval=config.poll_interval,
        host_grace=config.host_grace,
        identity_of=certificate_identity if config.tls_client_ca is not None else None,
        max_hosts=config.max_hosts,
        stats_flush_interval=config.stats_flush_interval,
    )
    await service.start()
    server, port = build_server(service, config.listen, credentials)
    await server.start()
    metrics_server = None
    if config.metrics_listen is not None:
        from ..metrics import ControllerMetrics, serve

        metrics = ControllerMetrics(service, directory.head_revision)
        service.on_applied_rows = metrics.apply.observe
        metrics_server = serve(metrics.registry, config.metrics_listen)
    if started is not None:
        started(service, port)
    try:
        await until_stopped(stop)
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        await service.stop()
        await server.stop(grace=1.0)
