"""The agent: one controller session at a time (failing over between controllers), the desired
state it was sent, a dataplane that follows it, and endpoint reports upward.

Headless by design: when no controller answers, the state and the datapath stay as they are
(forwarding continues) and the agent keeps trying every controller in turn. On reconnect it
says which revision and digest it holds; the controller answers with the missing deltas or a
snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from .. import __version__
from ..dataplane.base import Attachment, Dataplane, DataplaneError
from ..dataplane.change import compose
from ..policy.compiler import Endpoint
from ..protocol import CHANNEL_OPTIONS as SESSION_OPTIONS
from ..protocol import controller_pb2 as pb
from ..protocol import controller_pb2_grpc as pb_grpc
from ..statistics import counting
from . import flows
from .credentials import RuntimeCredentials
from .flows import FlowLog
from .state import HostState, Prepared

log = logging.getLogger("overcast.agent")

#: Several agents of one machine (tests, the scale benchmark) talk to one controller: keep their
#: channels apart instead of sharing one subchannel.
CHANNEL_OPTIONS = [*SESSION_OPTIONS, ("grpc.use_local_subchannel_pool", 1)]

#: Updates that queued while the dataplane was busy are applied as one change, up to this many:
#: a dataplane's cost per change is mostly per domain, not per entry (the Linux driver plans a
#: domain's namespace once per change).
MAX_UPDATES_PER_APPLY = 64


def _fields(message: Any) -> dict[str, Any]:
    return {field.name: value for field, value in message.ListFields()}


class AgentError(Exception):
    """A local API request that cannot be served (the message says why)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TlsFiles:
    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=self.key.read_bytes() if self.key else None,
            certificate_chain=self.cert.read_bytes() if self.cert else None,
        )


class Agent:
    def __init__(
        self,
        host_id: str,
        underlay_ip: str,
        controllers: list[str],
        dataplane: Dataplane,
        *,
        tls: TlsFiles | None = None,
        tls_server_name: str | None = None,
        claim_timeout: float = 15.0,
        on_applied: Callable[[Agent, pb.Update], None] | None = None,
        credentials: RuntimeCredentials | None = None,
        stats_interval: float = 10.0,
        flow_log: FlowLog | None = None,
        flow_syslog: logging.Handler | None = None,
    ) -> None:
        if not controllers:
            raise ValueError("an agent needs at least one controller address")
        self.host_id = host_id
        self.underlay_ip = underlay_ip
        self.controllers = controllers
        self.dataplane = dataplane
        self.tls = tls
        self.tls_server_name = tls_server_name
        self.claim_timeout = claim_timeout
        #: Whose rights this host's runtime requests carry (sent in every Hello).
        self.credentials = credentials
        #: Called after each applied update (benchmarks time acknowledgements with it).
        self.on_applied = on_applied
        self.state = HostState(host_id)
        self.controller: str | None = None  # address of the current session's controller
        self.controller_id: str | None = None
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.updates_applied = 0
        self.snapshots_applied = 0
        #: Dataplane changes made: fewer than updates when queued updates were applied together.
        self.dataplane_changes = 0
        self.dataplane_failures = 0
        #: Told how long each dataplane change took (seconds, "ok" or "failed"): the metrics.
        self.on_programmed: Callable[[float, str], None] | None = None
        #: Seconds between counter reports to the controller (0: none).
        self.stats_interval = stats_interval
        #: The counters as last reported (None: not read yet — the first read is the baseline:
        #: counts adopted with the ruleset were reported by this host's previous run).
        self._reported: counting.Readings | None = None
        self.reports_sent = 0
        #: The datapath's counters as last read (:meth:`Dataplane.counters`; the metrics).
        self.counted: dict[str, Any] = {}
        #: The flows the datapath logged (a bounded ring; forwarded within a rate limit).
        self.flows = flow_log or FlowLog()
        #: Where forwarded flow records also go, one JSON line each (syslog), if anywhere.
        self.flow_syslog = flow_syslog
        self._addresses: tuple[int, dict[str, dict[str, str]]] = (-1, {})
        self._call: Any = None
        self._write_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[pb.EndpointResult]] = {}
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()

    # --- the session ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a session to one of the controllers until stopped."""
        loop = asyncio.get_running_loop()

        def on_flows(domain_id: str, packets: list[Any]) -> None:  # the datapath's reader thread
            loop.call_soon_threadsafe(self._logged, domain_id, packets)

        self.dataplane.on_flows = on_flows
        backoff = 0.1
        for target in itertools.cycle(self.controllers):
            if self._stopping.is_set():
                return
            started = time.monotonic()
            try:
                await self._session(target)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the agent is stopping
                self.last_error = f"{target}: the session was cancelled"  # a cancelled call
            except grpc.aio.AioRpcError as exc:
                self.last_error = f"{target}: {exc.code().name}: {exc.details()}"
                log.warning("controller session %s", self.last_error)
                if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
                    backoff = 5.0
            except Exception as exc:
                self.last_error = f"{target}: {exc}"
                log.exception("controller session with %s failed", target)
            finally:
                self._session_ended()
            if time.monotonic() - started > 5:
                backoff = 0.1  # the session lived: reconnect promptly
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
                return
            except TimeoutError:
                backoff = min(backoff * 2, 2.0)

    def stop(self) -> None:
        self._stopping.set()
        if self._call is not None:
            self._call.cancel()

    def _channel(self, target: str) -> grpc.aio.Channel:
        if self.tls is None:
            return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        options = list(CHANNEL_OPTIONS)
        if self.tls_server_name:
            options.append(("grpc.ssl_target_name_override", self.tls_server_name))
        return grpc.aio.secure_channel(target, self.tls.credentials(), options=options)

    async def _session(self, target: str) -> None:
        async with self._channel(target) as channel:
            stub = pb_grpc.ControllerStub(channel)
            call = stub.Session()
            hello = pb.Hello(
                host_id=self.host_id,
                underlay_ip=self.underlay_ip,
                applied_revision=self.state.revision,
                digest=self.state.digest,
                agent_version=__version__,
                runtime_credentials=self.credentials.message() if self.credentials else None,
            )
            # The Hello goes first and alone: the call is published for requests only once it is
            # written (a request written meanwhile raced it — gRPC refuses two writes at once,
            # GRPC_CALL_ERROR_TOO_MANY_OPERATIONS — and would have preceded the Hello).
            async with self._write_lock:
                await call.write(pb.AgentMessage(hello=hello))
            self._call = call
            updates: asyncio.Queue[pb.Update] = asyncio.Queue()
            reader = asyncio.create_task(self._read(target, call, updates))
            applier = asyncio.create_task(self._apply_updates(updates))
            reporter = asyncio.create_task(self._report_counters())
            flow_sender = asyncio.create_task(self._send_flows())
            try:
                # The session ends when the stream does, or when applying fails unexpectedly
                # (the next session starts from a Hello and gets what it is missing).
                done, _ = await asyncio.wait({reader, applier}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                for task in (reader, applier, reporter, flow_sender):
                    task.cancel()
                    # Its outcome, if it mattered, was raised above.
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _read(self, target: str, call: Any, updates: asyncio.Queue[pb.Update]) -> None:
        """Dispatch what the controller sends until it ends the session. Updates queue for the
        applier, so endpoint results are never held up behind a dataplane change."""
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                self.last_error = f"{target}: the controller closed the session"
                return
            kind = message.WhichOneof("body")
            if kind == "welcome":
                self.controller, self.controller_id = target, message.welcome.controller_id
                self.connected_since = time.time()
                self.last_error = None
                log.info("session with %s (%s)", target, self.controller_id)
            elif kind == "update":
                updates.put_nowait(message.update)
            elif kind == "endpoint_result":
                future = self._pending.pop(message.endpoint_result.request_id, None)
                if future is not None and not future.done():
                    future.set_result(message.endpoint_result)

    async def _report_counters(self) -> None:
        """Every ``stats_interval``: what the datapath counted since the last report, on the
        stream (objects that moved only). A report that cannot be written is not lost: the next
        one counts from the last report sent."""
        if self.stats_interval <= 0:
            return
        while True:
            if self._reported is None:
                self._reported = await self._read_counters()
            await asyncio.sleep(self.stats_interval)
            try:
                current = await self._read_counters()
            except Exception:  # the datapath is busy or broken: the next read will tell
                log.warning("reading the datapath's counters failed", exc_info=True)
                continue
            moved = counting.deltas(self._reported, current)
            if moved:
                report = pb.CounterReport(
                    end_ms=int(time.time() * 1000), interval_ms=int(self.stats_interval * 1000)
                )
                for (kind, object_id, domain_id), metrics in moved.items():
                    report.objects.add(kind=kind, id=object_id, domain_id=domain_id, metrics=metrics)
                await self._write(pb.AgentMessage(counters=report))
                self.reports_sent += 1
            self._reported = current

    # --- flow logs -------------------------------------------------------------------------------

    def _vports_by_address(self, domain_id: str) -> dict[str, str]:
        """The domain's endpoints this host knows, address -> vport (rebuilt per revision)."""
        revision, by_domain = self._addresses
        if revision != self.state.revision:
            by_domain = {}
            for key, entry in self.state.raw.items():
                if key[0] == "endpoint" and entry.endpoint.HasField("ip"):
                    by_domain.setdefault(key[1], {})[entry.endpoint.ip] = key[2]
            self._addresses = (self.state.revision, by_domain)
        return by_domain.get(domain_id, {})

    def _logged(self, domain_id: str, packets: list[Any]) -> None:
        """Packets the datapath logged (on the loop): records in the ring, forwarded ones to
        syslog too."""
        now, vports = time.time(), self._vports_by_address(domain_id)
        records = []
        for packet in packets:
            found = flows.record_of(
                packet.prefix,
                (packet.protocol, packet.source, packet.source_port, packet.destination,
                 packet.destination_port, packet.length),
                now=packet.timestamp or now,
                host=self.host_id,
                domain_id=domain_id,
                vports=vports,
            )  # fmt: skip
            if found is not None:
                records.append(found)
        before = len(self.flows.outbox)
        self.flows.add(records)
        if self.flow_syslog is not None:
            for record in self.flows.outbox[before:]:
                self.flow_syslog.handle(
                    logging.LogRecord("overcast.flows", logging.INFO, "", 0, record.json(), None, None)
                )

    async def _send_flows(self) -> None:
        """Every second: the records within the rate limit, and how many were held back."""
        while True:
            await asyncio.sleep(1.0)
            records, dropped = self.flows.take()
            if not records and not dropped:
                continue
            batch = pb.FlowBatch(dropped=dropped)
            for record in records:
                batch.records.add(
                    time_ms=int(record.time * 1000), host_id=record.host, domain_id=record.domain_id,
                    direction=record.direction, verdict=record.verdict, entry_id=record.entry_id,
                    protocol=record.protocol, source=record.source, source_port=record.source_port or 0,
                    destination=record.destination, destination_port=record.destination_port or 0,
                    source_vport=record.source_vport or "", destination_vport=record.destination_vport or "",
                    length=record.length,
                )  # fmt: skip
            await self._write(pb.AgentMessage(flows=batch))

    async def _read_counters(self) -> counting.Readings:
        dataplane = self.dataplane
        counted = await asyncio.to_thread(dataplane.counters) if dataplane.blocking else dataplane.counters()
        self.counted = counted
        return counting.readings(counted)

    def _session_ended(self) -> None:
        self._call = None
        self.controller = self.controller_id = None
        self.connected_since = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AgentError(503, "the controller session ended"))
        self._pending.clear()

    async def _write(self, message: pb.AgentMessage) -> None:
        call = self._call
        if call is None:
            raise AgentError(503, "no controller session (the agent is headless)")
        async with self._write_lock:
            await call.write(message)

    async def _apply_updates(self, queue: asyncio.Queue[pb.Update]) -> None:
        """Apply the session's updates in order; those that queued up while the dataplane was
        busy are applied together (one dataplane change), then acknowledged one by one."""
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_UPDATES_PER_APPLY:
                batch.append(queue.get_nowait())
            while batch:
                prepared, refused = self.state.prepare_many(batch)
                if prepared:
                    await self._apply(prepared)
                if refused is None:
                    break
                update = batch[len(prepared)]
                log.warning("cannot apply revision %d: %s", update.revision, refused)
                await self._nack(update, refused)
                batch = batch[len(prepared) + 1 :]

    async def _apply(self, prepared: list[Prepared]) -> None:
        """Program the dataplane with prepared updates, then commit and acknowledge them.

        The state changes only after the dataplane took the change: an attach waiting for its
        endpoint to appear in the state returns once the datapath is programmed.
        """
        change = compose([p.change for p in prepared])
        began = time.perf_counter()
        try:
            if self.dataplane.blocking:
                await asyncio.to_thread(self.dataplane.apply, change)
            else:
                self.dataplane.apply(change)
        except DataplaneError as exc:
            self.dataplane_failures += 1
            if self.on_programmed is not None:
                self.on_programmed(time.perf_counter() - began, "failed")
            log.warning(
                "cannot apply revisions %d-%d: %s",
                prepared[0].update.revision,
                prepared[-1].update.revision,
                exc,
            )
            for step in prepared:
                await self._nack(step.update, exc)
            return
        self.dataplane_changes += 1
        if self.on_programmed is not None:
            self.on_programmed(time.perf_counter() - began, "ok")
        for step in prepared:
            self.state.commit(step)
            self.updates_applied += 1
            self.snapshots_applied += step.update.snapshot
            await self._write(pb.AgentMessage(ack=pb.Ack(revision=step.update.revision, ok=True)))
            if self.on_applied is not None:
                self.on_applied(self, step.update)
        async with self._changed:
            self._changed.notify_all()

    async def _nack(self, update: pb.Update, error: Exception) -> None:
        await self._write(pb.AgentMessage(ack=pb.Ack(revision=update.revision, ok=False, error=str(error))))

    # --- local operations (the unix-socket API and the CNI/Docker integrations use these) --------

    async def _request(self, build: Any) -> pb.EndpointResult:
        """Send the controller a request carrying a fresh request ID and wait for its result."""
        request_id = uuid.uuid4().hex
        future: asyncio.Future[pb.EndpointResult] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._write(build(request_id))
            return await asyncio.wait_for(future, timeout=self.claim_timeout)
        except TimeoutError:
            raise AgentError(504, "the controller did not answer in time") from None
        finally:
            self._pending.pop(request_id, None)

    async def _report(self, vport_id: str, mac: str, up: bool) -> None:
        state = pb.EndpointReport.UP if up else pb.EndpointReport.DOWN
        result = await self._request(
            lambda rid: pb.AgentMessage(
                endpoint=pb.EndpointReport(request_id=rid, state=state, vport_id=vport_id, mac=mac)
            )
        )
        if not result.ok:
            raise AgentError(409, result.error)

    async def create_endpoint(self, request: pb.EndpointCreate) -> pb.EndpointResult:
        """Ask the controller to create a runtime's endpoint in the directory (idempotent by
        ``request.uuid``)."""
        result = await self._request(
            lambda rid: pb.AgentMessage(create=pb.EndpointCreate(**{**_fields(request), "request_id": rid}))
        )
        if not result.ok:
            raise AgentError(result.code or 409, result.error)
        return result

    async def ensure_subnet(self, request: pb.SubnetEnsure) -> None:
        """Ask the controller to create a runtime network's zone and subnet when missing."""
        result = await self._request(
            lambda rid: pb.AgentMessage(
                ensure_subnet=pb.SubnetEnsure(**{**_fields(request), "request_id": rid})
            )
        )
        if not result.ok:
            raise AgentError(result.code or 409, result.error)

    async def remove_endpoint(self, endpoint_uuid: str) -> pb.EndpointResult:
        """Ask the controller to delete a runtime's endpoint (idempotent)."""
        result = await self._request(
            lambda rid: pb.AgentMessage(remove=pb.EndpointRemove(request_id=rid, uuid=endpoint_uuid))
        )
        if not result.ok:
            raise AgentError(result.code or 409, result.error)
        return result

    async def runtime_add(self, request: pb.EndpointCreate, netns: str, ifname: str) -> pb.EndpointResult:
        """A runtime's ADD: the endpoint created in the directory, then plumbed here. If
        plumbing fails, the endpoint is removed again: a failed ADD leaves nothing behind."""
        created = await self.create_endpoint(request)
        try:
            await self.attach(Attachment(created.vport_id, created.mac.lower(), netns, ifname))
        except BaseException:
            await asyncio.shield(self._undo(request.uuid, created.vport_id))
            raise
        return created

    async def _undo(self, endpoint_uuid: str, vport_id: str) -> None:
        try:
            await self.remove_endpoint(endpoint_uuid)
        finally:
            self.dataplane.detach(vport_id)

    async def runtime_del(self, endpoint_uuid: str) -> str | None:
        """A runtime's DEL (idempotent): the endpoint leaves the directory, then this host's
        datapath once the controller's update removes it. Returns the vport it had, if any."""
        result = await self.remove_endpoint(endpoint_uuid)
        if result.vport_id:
            vport_id = result.vport_id
            await self._wait_for(lambda: self.state.endpoint(vport_id) is None, f"vport {vport_id} to leave")
            self.dataplane.detach(vport_id)
        return result.vport_id or None

    async def _wait_for(self, predicate: Any, what: str) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout=self.claim_timeout)
            except TimeoutError:
                raise AgentError(504, f"timed out waiting for {what}") from None

    async def attach(self, attachment: Attachment) -> tuple[str, Endpoint]:
        """Report an endpoint up and wait until the desired state runs it here."""
        if not attachment.vport_id or not attachment.mac:
            raise AgentError(400, "attach needs a vport ID and a MAC address")
        self.dataplane.attach(attachment)
        try:
            await self._report(attachment.vport_id, attachment.mac, up=True)
            await self._wait_for(
                lambda: self.state.endpoint(attachment.vport_id) is not None,
                f"vport {attachment.vport_id} to appear in the desired state",
            )
        except BaseException:
            if self.state.endpoint(attachment.vport_id) is None:
                self.dataplane.detach(attachment.vport_id)
            raise
        found = self.state.endpoint(attachment.vport_id)
        assert found is not None
        return found

    async def detach(self, vport_id: str, mac: str | None = None) -> None:
        """Report an endpoint down (idempotent) and wait until the state no longer runs it."""
        held = self.state.endpoint(vport_id)
        mac = mac or (held[1].mac if held else None)
        if mac is not None:
            await self._report(vport_id, mac, up=False)
            await self._wait_for(
                lambda: self.state.endpoint(vport_id) is None, f"vport {vport_id} to leave the desired state"
            )
        self.dataplane.detach(vport_id)

    def dump(self) -> dict[str, Any]:
        """The state dump: session, applied revision, desired state, dataplane summary."""
        return {
            "host_id": self.host_id,
            "underlay_ip": self.underlay_ip,
            "session": {
                "controllers": self.controllers,
                "connected": self.controller is not None,
                "controller": self.controller,
                "controller_id": self.controller_id,
                "since": self.connected_since,
                "last_error": self.last_error,
            },
            "applied_revision": self.state.revision,
            "digest": f"{self.state.digest:016x}",
            "updates_applied": self.updates_applied,
            "snapshots_applied": self.snapshots_applied,
            "dataplane_changes": self.dataplane_changes,
            "domains": [_view_json(v) for v in self.state.views()],
            "dataplane": self.dataplane.describe(),
        }


def _endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "vport_id": endpoint.vport_id,
        "mac": endpoint.mac,
        "ip": endpoint.ip,
        "subnet_id": endpoint.subnet_id,
        "zone_id": endpoint.zone_id,
        "host_id": endpoint.host_id,
        "vtep": endpoint.vtep,
    }


def _view_json(view: Any) -> dict[str, Any]:
    def rule(r: Any) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in r._asdict().items()}

    return {
        "id": view.id,
        "enterprise_id": view.enterprise_id,
        "subnets": [s._asdict() for s in view.subnets],
        "local": [_endpoint_json(e) for e in view.local],
        "remote": [_endpoint_json(e) for e in view.remote],
        "sets": {name: sorted(cidrs) for name, cidrs in view.sets},
        "ingress": [rule(r) for r in view.ingress],
        "egress": [rule(r) for r in view.egress],
        "ingress_defaults": view.ingress_defaults._asdict(),
        "egress_defaults": view.egress_defaults._asdict(),
    }


def endpoint_json(domain_id: str, endpoint: Endpoint, state: HostState) -> dict[str, Any]:
    """What attach returns: the endpoint and its subnet (for CNI results and Docker Join)."""
    subnet = state.value(("subnet", domain_id, endpoint.subnet_id))
    return {
        **_endpoint_json(endpoint),
        "domain_id": domain_id,
        "prefix": subnet.prefix if subnet else None,
        "gateway": subnet.gateway if subnet else None,
        "gateway_mac": subnet.gateway_mac if subnet else None,
        "vni": subnet.vni if subnet else None,
    }
