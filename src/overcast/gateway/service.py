"""``overcast gateway``: keeps the routers' view of north-south routes equal to the directory's.

It reads the directory the way a controller does (a snapshot, then the change log, through
:mod:`overcast.controller.feed`), keeps the same incremental policy engine, and after every
batch announces or withdraws the difference between :func:`.routes.north_south_routes` and
what its speaker announced. It carries no traffic: hosts translate and forward their own
endpoints' north-south traffic, so a gateway that dies costs no packet — the routers keep the
other gateways' identical paths (run two). A restarted gateway announces everything again.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from ..controller import feed
from ..directory.controller_interface import Directory, open_directory, record_gateway
from ..policy.engine import PolicyEngine
from ..process import until_stopped
from ..protocol import codec
from .heartbeat import HEARTBEAT_MS
from .routes import north_south_routes, route_changes
from .speaker import PeerStatus, Speaker, SpeakerError

log = logging.getLogger("overcast.gateway")


class GatewayService:
    #: Seconds between records of the sessions' states in the directory.
    RECORD_INTERVAL = 2.0

    def __init__(
        self,
        directory: Directory,
        speaker: Speaker,
        peers: dict[str, int],
        *,
        name: str | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        self.directory, self.speaker, self.peers = directory, speaker, peers
        self.name = name or speaker.router_id
        self.poll_interval = poll_interval
        self._recorded_at = 0.0
        self.engine = PolicyEngine(codec.wire_entry)
        self.revision = 0
        self.announced: dict[str, str] = {}
        #: Each peer's session state as last recorded (for the metrics).
        self.sessions: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        revision, snapshot = await asyncio.to_thread(feed.load_snapshot, self.directory)
        self.engine.apply(snapshot)
        self.revision = revision
        await self._start_speaker()
        await self.sync()
        await self.record(now=True)
        self._task = asyncio.create_task(self._feed_loop(), name="gateway-feed")
        log.info("gateway at revision %d: %d routes", revision, len(self.announced))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.speaker.stop()

    async def _start_speaker(self) -> None:
        await self.speaker.start()
        for address, asn in sorted(self.peers.items()):
            await self.speaker.add_peer(address, asn)

    async def keep_speaker(self) -> None:
        """Start the speaker again when its daemon died (killed, crashed): the routers saw its
        sessions drop and removed its paths, so it comes back with every peer and announces
        everything again. A start that fails raises; the feed loop retries with backoff."""
        if self.speaker.running:
            return
        log.warning("gobgpd is not running; starting it again")
        await self.speaker.stop()
        self.announced = {}
        await self._start_speaker()

    async def sync(self) -> None:
        """Announce and withdraw until the speaker holds exactly the wanted routes."""
        withdraw, announce = route_changes(self.announced, north_south_routes(self.engine.domains))
        for prefix, hop in sorted(withdraw.items()):
            await self.speaker.withdraw(prefix, hop)
            del self.announced[prefix]
        for prefix, hop in sorted(announce.items()):
            await self.speaker.announce(prefix, hop)
            self.announced[prefix] = hop

    async def _feed_loop(self) -> None:
        backoff = self.poll_interval
        while True:
            await asyncio.sleep(backoff)
            try:
                while rows := await asyncio.to_thread(feed.read_whole_changes, self.directory, self.revision):
                    self.apply_rows(rows)
                await self.keep_speaker()
                await self.sync()
                backoff = self.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception:  # the store or the speaker is away: keep the routes, retry slower
                log.exception("the gateway's feed failed; retrying")
                backoff = min(max(backoff * 2, 0.5), 5.0)
            try:  # also when the speaker is down: the record says so
                await self.record()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not record the gateway's state in the directory")

    def apply_rows(self, rows: list[dict[str, Any]]) -> None:
        self.engine.apply(feed.changes_from_log(rows))
        self.revision = int(rows[-1]["revision"])

    async def status(self) -> list[PeerStatus]:
        return await self.speaker.peers()

    async def record(self, *, now: bool = False) -> None:
        """Every few seconds: this gateway and its sessions' states in the directory (VSD's
        ``gateways``), for ``overcast status`` and operators' tools."""
        loop = asyncio.get_running_loop()
        if not now and loop.time() - self._recorded_at < self.RECORD_INTERVAL:
            return
        self._recorded_at = loop.time()
        sessions = {}
        if self.speaker.running:
            try:
                sessions = {peer.address: peer.state for peer in await self.speaker.peers()}
            except (grpc.aio.AioRpcError, SpeakerError):
                pass
        self.sessions = sessions
        await asyncio.to_thread(
            partial(record_gateway, refresh_after_ms=HEARTBEAT_MS),
            self.directory, self.name, self.speaker.router_id, sessions,
        )  # fmt: skip


async def run_gateway(
    database: str | None,
    state_dir: Path,
    *,
    asn: int,
    router_id: str,
    peers: dict[str, int],
    bgp_netns: str | None = None,
    listen_port: int = 179,
    poll_interval: float = 0.05,
    metrics_listen: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """The ``overcast gateway`` process: serve until ``stop`` (or SIGINT/SIGTERM)."""
    directory = await asyncio.to_thread(open_directory, database, state_dir)
    speaker = Speaker(asn, router_id, state_dir / "gateway", netns=bgp_netns, listen_port=listen_port)
    service = GatewayService(directory, speaker, peers, poll_interval=poll_interval)
    await service.start()
    metrics_server = None
    if metrics_listen is not None:
        from ..metrics import GatewayMetrics, serve

        metrics_server = serve(GatewayMetrics(service).registry, metrics_listen)
    try:
        await until_stopped(stop)
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        await service.stop()
