"""Overcast's BGP speaker: a ``gobgpd`` of its own, driven over its gRPC API.

GoBGP (Debian's ``gobgpd`` 3.10; shared/reference/bgp-evpn.md §3.3, §5) speaks BGP to the
data-center routers; Overcast tells it what to announce (``AddPath``/``DeletePath``) and asks it
what it learned and how its sessions are. Its API listens on a unix socket, not TCP: the
daemon may run in another network namespace than its driver (the tests' gateway namespaces),
and a file is reachable from every namespace — and protected by its mode. ``gobgpd`` touches no
kernel routing table (no zebra): Overcast programs its own datapath.

Timers: hold 9 s, keepalive 3 s — a dead peer is noticed within 9 s; the routers withdraw a
gateway's routes as soon as its session drops (a killed ``gobgpd`` closes the TCP session: the
routers see it at once), so ECMP over two gateways moves in well under the 3 s the issue asks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.any_pb2 import Any as AnyMessage

from .gobgp import attribute_pb2 as attribute
from .gobgp import gobgp_pb2 as api
from .gobgp import gobgp_pb2_grpc as api_grpc

log = logging.getLogger("overcast.gateway.speaker")

HOLD_TIME, KEEPALIVE = 9, 3
_IPV4_UNICAST = api.Family(afi=api.Family.AFI_IP, safi=api.Family.SAFI_UNICAST)
_STATES = {v.number: v.name.lower() for v in api.PeerState.SessionState.DESCRIPTOR.values}


class SpeakerError(Exception):
    pass


@dataclass(frozen=True)
class PeerStatus:
    address: str
    asn: int
    state: str  # idle | connect | active | opensent | openconfirm | established | unknown
    received: int  # routes received (IPv4 unicast)
    advertised: int


@dataclass(frozen=True)
class Learned:
    prefix: str
    next_hop: str
    peer: str


def _packed(message: object) -> AnyMessage:
    wrapped = AnyMessage()
    wrapped.Pack(message)  # type: ignore[arg-type]
    return wrapped


def _path(prefix: str, next_hop: str) -> api.Path:
    network = ipaddress.IPv4Network(prefix)
    return api.Path(
        family=_IPV4_UNICAST,
        nlri=_packed(
            attribute.IPAddressPrefix(prefix=str(network.network_address), prefix_len=network.prefixlen)
        ),
        pattrs=[
            _packed(attribute.OriginAttribute(origin=0)),
            _packed(attribute.NextHopAttribute(next_hop=next_hop)),
        ],
    )


class Speaker:
    """One ``gobgpd`` process (started in ``netns`` when given), its API socket in ``workdir``."""

    def __init__(
        self, asn: int, router_id: str, workdir: Path, *, netns: str | None = None, listen_port: int = 179
    ) -> None:
        self.asn, self.router_id, self.netns, self.listen_port = asn, router_id, netns, listen_port
        self.workdir = workdir
        self.socket = workdir / "gobgpd.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.aio.Channel | None = None
        self._stub: api_grpc.GobgpApiStub | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Start the daemon, wait for its API, and start BGP (AS, router ID, port)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.socket.unlink(missing_ok=True)
        argv = ["gobgpd", "--api-hosts", f"unix://{self.socket}", "--pprof-disable", "--log-plain"]
        if self.netns is not None:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        # gobgpd dies with its driver, even a killed one: an orphan would keep announcing what
        # nobody updates any more, and hold the port and socket a restarted gateway needs.
        argv = ["setpriv", "--pdeathsig", "TERM", *argv]
        log_file = open(self.workdir / "gobgpd.log", "ab")  # noqa: SIM115 (the daemon's for its life)
        self.process = subprocess.Popen(
            argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        log_file.close()
        self._channel = grpc.aio.insecure_channel(f"unix://{self.socket}")
        self._stub = api_grpc.GobgpApiStub(self._channel)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.process.poll() is not None:
                raise SpeakerError(
                    f"gobgpd exited ({self.process.returncode}); see {self.workdir / 'gobgpd.log'}"
                )
            try:
                await self.stub.GetBgp(api.GetBgpRequest(), timeout=1)
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAVAILABLE and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.1)
                    continue
                if exc.code() != grpc.StatusCode.UNAVAILABLE:
                    break  # it answers: BGP is just not started yet
                raise SpeakerError(f"gobgpd's API did not come up: {exc.details()}") from exc
        await self.stub.StartBgp(
            api.StartBgpRequest(
                **{"global": api.Global(asn=self.asn, router_id=self.router_id, listen_port=self.listen_port)}
            )
        )

    @property
    def running(self) -> bool:
        """Whether the daemon was started and has not exited."""
        return self.process is not None and self.process.poll() is None

    @property
    def stub(self) -> api_grpc.GobgpApiStub:
        if self._stub is None:
            raise SpeakerError("the speaker is not started")
        return self._stub

    async def add_peer(self, address: str, asn: int) -> None:
        """A BGP neighbour for IPv4 unicast (eBGP when its AS differs from ours)."""
        timers = api.Timers(config=api.TimersConfig(hold_time=HOLD_TIME, keepalive_interval=KEEPALIVE,
                                                    connect_retry=2))  # fmt: skip
        afi_safi = api.AfiSafi(config=api.AfiSafiConfig(family=_IPV4_UNICAST, enabled=True))
        peer = api.Peer(conf=api.PeerConf(neighbor_address=address, peer_asn=asn), timers=timers,
                        afi_safis=[afi_safi])  # fmt: skip
        await self.stub.AddPeer(api.AddPeerRequest(peer=peer))

    async def announce(self, prefix: str, next_hop: str) -> None:
        """Announce ``prefix`` with ``next_hop`` (another host's address: routers on the same
        segment send straight to it). Announcing it again with another next hop replaces it."""
        await self.stub.AddPath(api.AddPathRequest(table_type=api.GLOBAL, path=_path(prefix, next_hop)))

    async def withdraw(self, prefix: str, next_hop: str) -> None:
        await self.stub.DeletePath(
            api.DeletePathRequest(table_type=api.GLOBAL, family=_IPV4_UNICAST, path=_path(prefix, next_hop))
        )

    async def peers(self) -> list[PeerStatus]:
        out = []
        async for reply in self.stub.ListPeer(api.ListPeerRequest()):
            peer = reply.peer
            counts = next((a.state for a in peer.afi_safis if a.state.family == _IPV4_UNICAST), None)
            out.append(
                PeerStatus(
                    address=peer.conf.neighbor_address,
                    asn=peer.conf.peer_asn,
                    state=_STATES.get(peer.state.session_state, "unknown"),
                    received=counts.received if counts else 0,
                    advertised=counts.advertised if counts else 0,
                )
            )
        return out

    async def learned(self) -> list[Learned]:
        """The IPv4 unicast routes the peers sent (e.g. the routers' default route)."""
        out = []
        request = api.ListPathRequest(table_type=api.GLOBAL, family=_IPV4_UNICAST)
        async for reply in self.stub.ListPath(request):
            for path in reply.destination.paths:
                if not path.neighbor_ip or path.neighbor_ip == "<nil>":
                    continue  # our own announcement
                hop = next((attribute.NextHopAttribute.FromString(p.value).next_hop for p in path.pattrs
                            if p.Is(attribute.NextHopAttribute.DESCRIPTOR)), "")  # fmt: skip
                out.append(Learned(reply.destination.prefix, hop, path.neighbor_ip))
        return out

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.socket.unlink(missing_ok=True)
