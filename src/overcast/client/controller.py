"""A client of the controller's operator RPCs (``Status``, ``Explain``) for the CLI and tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from ..agent.agent import TlsFiles
from ..protocol import controller_pb2 as pb
from ..protocol import controller_pb2_grpc as pb_grpc
from .vsd import xrest


class ControllerClientError(Exception):
    pass


class ControllerClient:
    def __init__(
        self,
        target: str,
        *,
        credentials: tuple[str, str, str],
        tls: TlsFiles | None = None,
        server_name: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """``credentials``: (organization, user, password or API key) of a directory user —
        the controller answers what that user may see (Status: the operator only)."""
        self.target, self.timeout = target, timeout
        organization, user, secret = credentials
        self._metadata = (("authorization", xrest(user, secret)), ("x-nuage-organization", organization))
        if tls is None:
            self._channel = grpc.insecure_channel(target)
        else:
            options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
            self._channel = grpc.secure_channel(target, tls.credentials(), options=options)
        self._stub = pb_grpc.ControllerStub(self._channel)

    def __enter__(self) -> ControllerClient:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._channel.close()

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: grpc.RpcError) -> ControllerClientError:
        code, details = exc.code(), exc.details()  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE:
            return ControllerClientError(f"cannot reach the controller at {self.target}: {details}")
        return ControllerClientError(f"controller: {details} ({code.name})")

    def status(self) -> pb.StatusReply:
        return self._call(self._stub.Status, pb.StatusRequest())

    def explain(
        self,
        source_vport: str,
        destination_vport: str,
        protocol: int,
        port: int = 0,
        icmp_type: int = -1,
        *,
        source_address: str = "",
        destination_address: str = "",
    ) -> pb.ExplainReply:
        """Either vport may be "" with an outside address in its place."""
        request = pb.ExplainRequest(
            source_vport=source_vport, destination_vport=destination_vport, protocol=protocol,
            destination_port=port, icmp_type=icmp_type, source_address=source_address,
            destination_address=destination_address,
        )  # fmt: skip
        return self._call(self._stub.Explain, request)

    def flows(self, request: pb.FlowsRequest) -> Iterator[pb.FlowRecord]:
        """The flow records that match; with ``request.follow``, without end (no timeout)."""
        timeout = None if request.follow else self.timeout
        try:
            yield from self._stub.Flows(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._failure(exc) from None
