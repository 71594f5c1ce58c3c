"""The controller: tails the directory, keeps the policy engine current, and keeps every connected
host in step over its gRPC session.

One asyncio loop owns the engine and the sessions (no locks); SQL runs in worker threads.

* **Feed.** Load a consistent snapshot, then read the change log after the last revision
  whenever woken (PostgreSQL ``LISTEN overcast_changes``, this process's own commits) or every
  ``poll_interval`` (another process writing SQLite). Each batch goes through the engine; each
  affected host gets one ``Update`` (a delta) carrying the revision and its new digest.
* **Sessions.** Hello → Welcome → a snapshot, or the catch-up deltas since the revision the
  agent holds when this controller still has them and the agent's digest matches. Acks are
  recorded; a nack (the agent could not apply, or its digest differs) is answered with a
  snapshot.
* **Records.** Hosts are registered as ``vrs`` (UP on hello, DOWN ``host_grace`` seconds after
  the session ends unless it came back); endpoint reports are batched into one directory
  transaction per host and answered once committed. The placement they record comes back
  through the change log, like every other change.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from ..directory import controller_interface as directory_api
from ..directory.controller_interface import Directory
from ..policy.engine import HostDelta, PolicyEngine
from ..policy.oracle import Packet, explain, explain_outside
from ..protocol import codec
from ..protocol import controller_pb2 as pb
from . import feed
from .flows import FlowHub
from .runtime_identity import CredentialsRefused, RuntimeIdentity
from .statistics import StatisticsCollector

log = logging.getLogger("overcast.controller")

#: Updates kept per host for catch-up after a reconnect; older ones mean a snapshot.
HISTORY_LIMIT = 4096

#: A host ID: what a certificate's CN, a vrs name and a namespace prefix can all carry.
HOST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

#: The longest text from an agent the controller logs (an Ack's error).
LOGGED_TEXT_LIMIT = 500


#: Refusals in a row after which a host is reported stuck (status, a warning).
STUCK_AFTER = 5


def resync_delay(refusals: int) -> float:
    """Seconds before the snapshot that answers the ``refusals``-th refusal in a row: the first
    at once (a transient failure repairs quickly), then 0.1 s doubling to 30 s. A host that
    refuses everything once received 1,137 snapshots a second."""
    return 0.0 if refusals <= 1 else min(0.1 * 2 ** (refusals - 2), 30.0)


def hello_problem(hello: pb.Hello) -> str | None:
    """Why a Hello is refused (None: acceptable). Checked before anything is recorded: a host
    ID and a VTEP address end up in the directory and in every other host's state."""
    if not HOST_ID.fullmatch(hello.host_id):
        return "host_id must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    try:
        address = ipaddress.ip_address(hello.underlay_ip)
    except ValueError:
        return f"underlay_ip {hello.underlay_ip[:64]!r} is not an IP address"
    if address.is_unspecified or address.is_multicast:
        return f"underlay_ip {address} cannot be a tunnel endpoint"
    return None


def clipped(text: str) -> str:
    return text if len(text) <= LOGGED_TEXT_LIMIT else text[:LOGGED_TEXT_LIMIT] + f"… ({len(text)} chars)"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class History:
    """The updates a host was (or would have been) sent since ``floor``, for catch-up."""

    floor: int  # complete from this revision on
    floor_digest: int  # the host's digest at ``floor``
    updates: deque[tuple[int, int, bytes]] = field(default_factory=deque)  # revision, digest, message

    def digest_at(self, revision: int) -> int | None:
        if revision < self.floor:
            return None
        digest = self.floor_digest
        for rev, after, _ in self.updates:
            if rev > revision:
                break
            digest = after
        return digest

    def since(self, revision: int) -> list[bytes]:
        return [message for rev, _, message in self.updates if rev > revision]

    def add(self, revision: int, digest: int, message: bytes) -> None:
        self.updates.append((revision, digest, message))
        while len(self.updates) > HISTORY_LIMIT:
            self.floor, self.floor_digest, _ = self.updates.popleft()


@dataclass
class HostSession:
    host_id: str
    peer: str
    outbox: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    sent_revision: int = 0
    applied_revision: int = 0
    acked_digest_ok: bool = False
    #: The revision of the last snapshot sent in this session (-1: none yet).
    snapshot_revision: int = -1
    #: Whose rights the host's runtime requests carry (None: the agent was given none).
    identity: RuntimeIdentity | None = None
    #: Updates refused in a row, and why the last one was (reset by an applied update).
    refusals: int = 0
    last_refusal: str = ""
    #: A snapshot waiting out the back-off after refusals (at most one).
    resync: asyncio.TimerHandle | None = None
    #: When the host last acknowledged an update (monotonic; its connection until then).
    last_ack: float = field(default_factory=time.monotonic)
    #: The host's ``vrs`` object (its statistics roll up there).
    vrs_id: str | None = None

    @property
    def in_sync(self) -> bool:
        return self.acked_digest_ok and self.applied_revision == self.sent_revision

    def send(self, message: bytes, revision: int) -> None:
        self.outbox.put_nowait(message)
        self.sent_revision = revision
        self.acked_digest_ok = False

    def send_snapshot(self, message: bytes, revision: int) -> None:
        self.send(message, revision)
        self.snapshot_revision = revision


@dataclass
class PendingClaim:
    session: HostSession
    request_id: str
    claim: directory_api.EndpointClaim


class ControllerService:
    """The controller's state and behaviour; :mod:`.server` wires it to gRPC."""

    def __init__(
        self,
        directory: Directory,
        *,
        controller_id: str | None = None,
        poll_interval: float = 0.025,
        host_grace: float = 30.0,
        identity_of: Callable[[Any], str | None] | None = None,
        max_hosts: int = 10_000,
        stats_flush_interval: float = 10.0,
    ) -> None:
        self.directory = directory
        self.controller_id = controller_id or f"controller-{uuid.uuid4().hex[:8]}"
        self.poll_interval = poll_interval
        self.host_grace = host_grace
        self.max_hosts = max_hosts
        #: The authenticated host identity of a gRPC context (mutual TLS), or None (no TLS).
        self.identity_of = identity_of or (lambda context: None)
        self.engine = PolicyEngine(codec.wire_entry)
        self.statistics = StatisticsCollector(directory, self.engine, flush_interval=stats_flush_interval)
        self.flows = FlowHub(directory, self._enterprise_of)
        self.revision = 0
        #: Told how long each batch of change-log rows took to compile and queue: the metrics.
        self.on_applied_rows: Callable[[float], None] | None = None
        self.sessions: dict[str, HostSession] = {}
        self.history: dict[str, History] = {}
        self._wake = asyncio.Event()
        self._claims: asyncio.Queue[PendingClaim] = asyncio.Queue()
        self._requests: set[asyncio.Task[None]] = set()  # endpoint creates/removes in flight
        self._tasks: list[asyncio.Task[None]] = []
        self._down_timers: dict[str, asyncio.Task[None]] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        revision, snapshot = await asyncio.to_thread(feed.load_snapshot, self.directory)
        self.engine.apply(snapshot)
        self.revision = revision
        loop = asyncio.get_running_loop()

        def wake(_revision: int, _audience: frozenset[str]) -> None:
            loop.call_soon_threadsafe(self._wake.set)

        self.directory.listener.subscribe(wake)
        self._tasks = [
            asyncio.create_task(self._feed_loop(), name="feed"),
            asyncio.create_task(self._claim_loop(), name="claims"),
            asyncio.create_task(self.statistics.run(), name="statistics"),
        ]
        if not self.directory.store.is_sqlite:
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="listen"))
        log.info("controller %s at revision %d", self.controller_id, revision)

    async def stop(self) -> None:
        for task in [*self._tasks, *self._down_timers.values()]:
            task.cancel()
        for session in self.sessions.values():
            session.outbox.put_nowait(None)
        await asyncio.gather(*self._tasks, *self._down_timers.values(), return_exceptions=True)
        if self._tasks:
            await self.statistics.flush()  # what the hosts reported last is not lost

    # --- the feed ------------------------------------------------------------------------------

    async def _feed_loop(self) -> None:
        backoff = self.poll_interval
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while True:
                    rows = await asyncio.to_thread(feed.read_whole_changes, self.directory, self.revision)
                    if not rows:
                        break
                    self.apply_rows(rows)
                backoff = self.poll_interval
            except Exception:  # the store is away: keep serving the last model, retry slower
                log.exception("reading the change log failed; retrying")
                backoff = min(max(backoff * 2, 0.5), 5.0)

    async def _listen_loop(self) -> None:
        """PostgreSQL: wake the feed on every commit's NOTIFY (the poll stays as a fallback)."""
        import psycopg

        url = self.directory.store.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute("LISTEN overcast_changes")
                    self._wake.set()  # catch what was committed before LISTEN took effect
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)

    def apply_rows(self, rows: list[dict[str, Any]]) -> None:
        """Apply change-log rows (in order) and send every affected host its delta."""
        began = time.perf_counter()
        deltas = self.engine.apply(feed.changes_from_log(rows))
        self.revision = int(rows[-1]["revision"])
        for host_id, delta in deltas.items():
            self._emit(host_id, delta)
        if self.on_applied_rows is not None:
            self.on_applied_rows(time.perf_counter() - began)

    def _emit(self, host_id: str, delta: HostDelta) -> None:
        digest = self.engine.host_digest(host_id)
        upserts = [self.engine.encoded[key[1]][key].framed for key in delta.upserts]
        message = codec.update_message(
            self.revision, snapshot=False, upserts=upserts, removals=delta.removals, digest=digest
        )
        history = self.history.get(host_id)
        if history is not None:
            history.add(self.revision, digest, message)
        session = self.sessions.get(host_id)
        if session is not None:
            session.send(message, self.revision)

    # --- sessions ------------------------------------------------------------------------------

    def _snapshot(self, host_id: str) -> bytes:
        return codec.update_message(
            self.revision,
            snapshot=True,
            upserts=self.engine.host_encoded(host_id),
            removals=(),
            digest=self.engine.host_digest(host_id),
        )

    def _start_history(self, host_id: str) -> None:
        if host_id not in self.history:
            self.history[host_id] = History(self.revision, self.engine.host_digest(host_id))

    async def session(self, requests: AsyncIterator[pb.AgentMessage], context: Any) -> AsyncIterator[Any]:
        """One agent's stream (an async generator of ControllerMessage, pre-encoded or not)."""
        first = await anext(aiter(requests), None)
        if first is None or first.WhichOneof("body") != "hello":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the first message must be Hello")
            return
        hello = first.hello
        identity = self.identity_of(context)
        problem = hello_problem(hello)
        if problem is not None:
            log.warning("refused a Hello from %s: %s", context.peer(), problem)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        if identity is not None and identity != hello.host_id:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"certificate is for host {identity!r}, not {hello.host_id!r}",
            )
        host_id = hello.host_id
        runtime = RuntimeIdentity.from_hello(hello)
        if runtime is not None:
            try:
                await asyncio.to_thread(runtime.principal, self.directory)
            except CredentialsRefused as exc:
                log.warning("host %s: runtime credentials of %s refused: %s", host_id, runtime.user, exc)
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"runtime credentials refused: {exc}")
        try:
            address, bound = hello.underlay_ip, self.max_hosts
            vrs_id = await asyncio.to_thread(
                directory_api.register_host, self.directory, host_id, address, now_ms(), bound
            )
        except directory_api.TooManyHosts as exc:
            log.warning("refused host %s from %s: %s", host_id, context.peer(), exc)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except Exception as exc:
            log.warning("cannot record host %s: %s", host_id, exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"the directory is unavailable: {exc}")
        timer = self._down_timers.pop(host_id, None)
        if timer is not None:
            timer.cancel()
        # From here to the first yield nothing awaits: the session's first messages (welcome,
        # then snapshot or catch-up) are queued before any later delta can be.
        previous = self.sessions.get(host_id)
        if previous is not None:
            previous.outbox.put_nowait(None)  # a host has one session: the newest wins
        session = HostSession(host_id, context.peer(), identity=runtime, vrs_id=vrs_id)
        welcome = pb.Welcome(controller_id=self.controller_id, host_id=host_id, revision=self.revision)
        session.outbox.put_nowait(pb.ControllerMessage(welcome=welcome).SerializeToString())
        self._start_history(host_id)
        self._initial_updates(session, hello.applied_revision, hello.digest)
        self.sessions[host_id] = session
        log.info(
            "host %s connected from %s (holds revision %d)", host_id, session.peer, hello.applied_revision
        )
        reader = asyncio.create_task(self._read(session, requests))
        try:
            while True:
                message = await session.outbox.get()
                if message is None:
                    break
                yield message
        finally:
            reader.cancel()
            if session.resync is not None:
                session.resync.cancel()
            if self.sessions.get(host_id) is session:
                del self.sessions[host_id]
                self._down_timers[host_id] = asyncio.create_task(self._host_down_later(host_id, now_ms()))
            log.info("host %s disconnected", host_id)

    def _initial_updates(self, session: HostSession, applied: int, digest: int) -> None:
        history = self.history[session.host_id]
        current = self.engine.host_digest(session.host_id)
        if applied and applied <= self.revision and history.digest_at(applied) == digest:
            catch_up = history.since(applied)
            for message in catch_up:
                session.outbox.put_nowait(message)
            # Always end with an update at the current revision, so the agent acks "in step".
            in_step = codec.update_message(
                self.revision, snapshot=False, upserts=(), removals=(), digest=current
            )
            session.send(in_step, self.revision)
            return
        session.send_snapshot(self._snapshot(session.host_id), self.revision)

    async def _read(self, session: HostSession, requests: AsyncIterator[pb.AgentMessage]) -> None:
        try:
            async for message in requests:
                kind = message.WhichOneof("body")
                if kind == "ack":
                    self._on_ack(session, message.ack)
                elif kind == "endpoint":
                    report = message.endpoint
                    claim = directory_api.EndpointClaim(
                        report.vport_id, report.mac, up=report.state == pb.EndpointReport.UP
                    )
                    self._claims.put_nowait(PendingClaim(session, report.request_id, claim))
                elif kind == "counters":
                    self.statistics.report(session.vrs_id, message.counters)
                elif kind == "flows":
                    task = asyncio.create_task(self.flows.add(session.host_id, message.flows))
                    self._requests.add(task)
                    task.add_done_callback(self._requests.discard)
                elif kind in ("create", "remove", "ensure_subnet"):
                    task = asyncio.create_task(self._endpoint_request(session, message))
                    self._requests.add(task)
                    task.add_done_callback(self._requests.discard)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("session of %s ended", session.host_id, exc_info=True)
        finally:
            session.outbox.put_nowait(None)

    def _enterprise_of(self, domain_id: str) -> str | None:
        domain = self.engine.state.get("domain", domain_id) or self.engine.state.get("l2domain", domain_id)
        return None if domain is None else domain.get("parentID")

    def _on_ack(self, session: HostSession, ack: pb.Ack) -> None:
        if ack.ok:
            session.applied_revision = ack.revision
            session.acked_digest_ok = ack.revision == session.sent_revision
            session.last_ack = time.monotonic()
            session.refusals = 0
            return
        if ack.revision < session.snapshot_revision:
            # Sent before a snapshot already on its way (updates go out in revision order and
            # everything sent after a snapshot has a higher revision): that snapshot repairs it.
            # An agent nacks every update of a batch it could not apply, and the updates queued
            # behind a refused one: each no longer costs a snapshot. (At the snapshot's own
            # revision the nack may be the snapshot's: it is answered with another.)
            log.info(
                "host %s could not apply revision %d: %s", session.host_id, ack.revision, clipped(ack.error)
            )
            return
        session.refusals += 1
        session.last_refusal = clipped(ack.error)
        if session.resync is not None:
            return  # a snapshot is already waiting out the back-off
        delay = resync_delay(session.refusals)
        (log.warning if session.refusals in (1, STUCK_AFTER) else log.info)(
            "host %s could not apply revision %d (%d in a row%s): %s; a snapshot in %.2f s",
            session.host_id,
            ack.revision,
            session.refusals,
            ", stuck: see overcast status" if session.refusals >= STUCK_AFTER else "",
            session.last_refusal,
            delay,
        )
        if delay == 0:
            session.send_snapshot(self._snapshot(session.host_id), self.revision)
            return

        def resend() -> None:
            session.resync = None
            if self.sessions.get(session.host_id) is session:
                session.send_snapshot(self._snapshot(session.host_id), self.revision)

        session.resync = asyncio.get_running_loop().call_later(delay, resend)

    async def _host_down_later(self, host_id: str, disconnected: int) -> None:
        await asyncio.sleep(self.host_grace)
        self._down_timers.pop(host_id, None)
        try:
            if await asyncio.to_thread(
                directory_api.mark_host_down, self.directory, host_id, disconnected, now_ms()
            ):
                log.info("host %s is DOWN (no session for %.0f s)", host_id, self.host_grace)
        except Exception:
            log.exception("cannot record host %s as down", host_id)

    # --- endpoints created and removed on a host's behalf ---------------------------------------

    async def _endpoint_request(self, session: HostSession, message: pb.AgentMessage) -> None:
        """Create or remove a runtime's endpoint in the directory (a worker thread: SQL)."""
        result = pb.EndpointResult()
        try:
            principal = await asyncio.to_thread(self._principal, session)
            if message.WhichOneof("body") == "create":
                request = message.create
                result.request_id = request.request_id
                spec = directory_api.EndpointSpec(
                    request.enterprise,
                    request.domain,
                    request.zone,
                    request.subnet,
                    tuple(request.policy_groups),
                    request.name,
                    request.uuid,
                    request.mac or None,
                    request.ip or None,
                )
                created = await asyncio.to_thread(
                    directory_api.create_endpoint, self.directory, principal, session.host_id, spec
                )
                result.ok = True
                result.vport_id, result.mac, result.ip = created.vport_id, created.mac, created.ip
                result.prefix_length, result.gateway = created.prefix_length, created.gateway
            elif message.WhichOneof("body") == "ensure_subnet":
                ensure = message.ensure_subnet
                result.request_id = ensure.request_id
                await asyncio.to_thread(
                    directory_api.ensure_subnet,
                    self.directory,
                    principal,
                    ensure.enterprise,
                    ensure.domain,
                    ensure.zone,
                    ensure.subnet,
                    ensure.address,
                    ensure.netmask,
                )
                result.ok = True
            else:
                result.request_id = message.remove.request_id
                try:
                    uuid_ = message.remove.uuid
                    removed = await asyncio.to_thread(
                        directory_api.remove_endpoint, self.directory, principal, session.host_id, uuid_
                    )
                except directory_api.NotThisHosts:
                    # Answered as an unknown identity (removal is idempotent) and logged: the
                    # host learns nothing of another host's or tenant's endpoint.
                    log.warning(
                        "host %s asked to remove endpoint %s, which it neither created nor runs: refused",
                        session.host_id,
                        clipped(message.remove.uuid),
                    )
                    removed = None
                result.ok, result.vport_id = True, removed or ""
            self._wake.set()
        except CredentialsRefused as exc:
            result.ok, result.error, result.code = False, f"runtime credentials refused: {exc}", 401
        except directory_api.EndpointRefused as exc:
            if exc.status == 403:
                log.warning("host %s: %s", session.host_id, exc)
            result.ok, result.error, result.code = False, str(exc), exc.status
        except Exception as exc:
            log.warning("endpoint request from %s failed: %s", session.host_id, exc)
            result.ok, result.error, result.code = False, f"the directory is unavailable: {exc}", 503
        session.outbox.put_nowait(pb.ControllerMessage(endpoint_result=result).SerializeToString())

    def _principals(self, sessions: dict[str, HostSession]) -> dict[str, Any]:
        principals = {}
        for host_id, session in sessions.items():
            try:
                principals[host_id] = self._principal(session)
            except CredentialsRefused as exc:
                log.warning("host %s: runtime credentials refused: %s", host_id, exc)
                principals[host_id] = None
        return principals

    def _principal(self, session: HostSession) -> Any:
        """The directory principal of the session's runtime credentials, or None (blocking)."""
        return None if session.identity is None else session.identity.principal(self.directory)

    # --- endpoint claims -----------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            batch = [await self._claims.get()]
            await asyncio.sleep(0.005)  # let a burst of reports join one transaction
            while not self._claims.empty() and len(batch) < 2000:
                batch.append(self._claims.get_nowait())
            by_host: dict[str, list[PendingClaim]] = {}
            for pending in batch:
                by_host.setdefault(pending.session.host_id, []).append(pending)
            sessions = {host_id: pendings[0].session for host_id, pendings in by_host.items()}
            try:
                principals = await asyncio.to_thread(self._principals, sessions)
                results = await asyncio.to_thread(
                    directory_api.claim_endpoints_of_hosts,
                    self.directory,
                    {host_id: [p.claim for p in pendings] for host_id, pendings in by_host.items()},
                    now_ms(),
                    principals,
                )
            except Exception as exc:
                log.warning("cannot record endpoints of %s: %s", ", ".join(by_host), exc)
                failed = directory_api.ClaimResult(False, f"the directory is unavailable: {exc}")
                results = {host_id: [failed] * len(pendings) for host_id, pendings in by_host.items()}
            self._wake.set()
            for host_id, pendings in by_host.items():
                for pending, result in zip(pendings, results[host_id], strict=True):
                    pending.session.outbox.put_nowait(
                        pb.ControllerMessage(
                            endpoint_result=pb.EndpointResult(
                                request_id=pending.request_id, ok=result.ok, error=result.error
                            )
                        ).SerializeToString()
                    )

    # --- status --------------------------------------------------------------------------------

    def explain(self, request: pb.ExplainRequest) -> pb.ExplainReply:
        """The oracle's judgement of a new flow between two vports — or a vport and an address
        outside the overlay — from the current model. Raises LookupError for a vport without
        an endpoint."""
        packet = Packet(
            "",
            "",
            protocol=request.protocol or 6,
            dport=request.destination_port,
            icmp_type=request.icmp_type if request.icmp_type >= 0 else None,
        )
        outside = request.source_address or request.destination_address
        ends = []
        for vport_id in (request.source_vport, request.destination_vport):
            if not vport_id and outside:
                continue
            found = self.engine.endpoint(vport_id)
            if found is None:
                raise LookupError(f"vport {vport_id!r} has no endpoint (no interface with an address)")
            ends.append(found)
        if outside:
            (domain_id, endpoint), inbound = ends[0], bool(request.source_address)
            entries_of = self.engine.domains.get(domain_id, {}).items()
            verdict = explain_outside(ends[0], entries_of, packet, outside=outside, inbound=inbound)
            judged = verdict.egress if inbound else verdict.ingress
            reason = (
                f"allowed by the {'egress' if inbound else 'ingress'} policy at the endpoint"
                if verdict.allowed
                else (judged.decided_by if judged.decided_by.startswith("no way")
                      else f"denied by the {'egress' if inbound else 'ingress'} policy at the endpoint")
            )  # fmt: skip
            return pb.ExplainReply(
                allowed=verdict.allowed,
                reason=reason,
                domain_id=domain_id,
                source_ip=outside if inbound else endpoint.ip or "",
                destination_ip=endpoint.ip or "" if inbound else outside,
                ingress=pb.Judgement(allowed=verdict.ingress.allowed, decided_by=verdict.ingress.decided_by,
                                     host_id="" if inbound else endpoint.host_id or ""),
                egress=pb.Judgement(allowed=verdict.egress.allowed, decided_by=verdict.egress.decided_by,
                                    host_id=endpoint.host_id or "" if inbound else ""),
            )  # fmt: skip
        (domain_id, source), (_, destination) = ends
        entries = {d: self.engine.domains.get(d, {}).items() for d, _ in ends}
        verdict = explain(ends[0], ends[1], entries, packet)
        if verdict.ingress.decided_by == "another domain":
            reason = "the endpoints are in different domains: tenants never meet"
        elif verdict.allowed:
            reason = "allowed by the source's ingress and the destination's egress policy"
        else:
            side = "ingress at the source" if not verdict.ingress.allowed else "egress at the destination"
            reason = f"denied by the {side}"
        return pb.ExplainReply(
            allowed=verdict.allowed,
            reason=reason,
            domain_id=domain_id,
            source_ip=source.ip or "",
            destination_ip=destination.ip or "",
            ingress=pb.Judgement(
                allowed=verdict.ingress.allowed,
                decided_by=verdict.ingress.decided_by,
                host_id=source.host_id or "",
            ),
            egress=pb.Judgement(
                allowed=verdict.egress.allowed,
                decided_by=verdict.egress.decided_by,
                host_id=destination.host_id or "",
            ),
        )

    def status(self) -> pb.StatusReply:
        reply = pb.StatusReply(controller_id=self.controller_id, revision=self.revision)
        hosts = sorted(set(self.engine.hosts()) | set(self.sessions))
        for host_id in hosts:
            session = self.sessions.get(host_id)
            domains = self.engine.domains_of_host.get(host_id, ())
            reply.hosts.append(
                pb.HostStatus(
                    host_id=host_id,
                    connected=session is not None,
                    sent_revision=session.sent_revision if session else 0,
                    applied_revision=session.applied_revision if session else 0,
                    in_sync=bool(session and session.in_sync),
                    domains=len(domains),
                    endpoints=sum(self.engine.host_count[d].get(host_id, 0) for d in domains),
                    digest=self.engine.host_digest(host_id),
                    refusals=session.refusals if session else 0,
                    last_refusal=session.last_refusal if session else "",
                )
            )
        return reply
