"""Simulated hosts and containers as network namespaces on one machine, and real-packet
probes (root only) — for the demo, the tests and the benchmarks.

Every namespace a lab creates contains its tag (unique per test; fixed for the demo, so
``overcast demo --down`` finds what an earlier run left) and is deleted when the lab closes,
even after a failure; traffic only goes to addresses inside these namespaces.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ..dataplane.linux.netns import in_netns

PROBE = Path(__file__).with_name("probe.py")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def can_run() -> bool:
    return os.geteuid() == 0 and Path("/usr/sbin/ip").exists() and Path("/usr/sbin/nft").exists()


class Lab:
    """An underlay bridge, hosts with an underlay address each, and containers."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or "t" + uuid.uuid4().hex[:6]
        self.underlay = f"{self.tag}-ul"
        self.hosts: dict[str, str] = {}  # host netns -> underlay IP
        self.namespaces: list[str] = []
        self.listeners: list[subprocess.Popen[str]] = []
        self._add(self.underlay)
        sh("ip", "-n", self.underlay, "link", "add", "br-ul", "type", "bridge")
        sh("ip", "-n", self.underlay, "link", "set", "br-ul", "up")

    def _add(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def host(self, short: str, address: str) -> str:
        """A host namespace ``<tag>-<short>`` with ``address``/24 on the underlay bridge."""
        name = self._add(f"{self.tag}-{short}")
        sh(
            "ip",
            "-n",
            name,
            "link",
            "add",
            "ul0",
            "type",
            "veth",
            "peer",
            "name",
            short,
            "netns",
            self.underlay,
        )
        sh("ip", "-n", self.underlay, "link", "set", short, "master", "br-ul", "up")
        sh("ip", "-n", name, "addr", "add", f"{address}/24", "dev", "ul0")
        sh("ip", "-n", name, "link", "set", "ul0", "up")
        self.hosts[name] = address
        return name

    def outside(self, router: str = "10.99.0.254", network: str = "198.51.100") -> tuple[str, str, str]:
        """A router on the underlay (``router``) with an outside network behind it
        (``<network>.0/24``, the router at .1) and a client there (.10); every host so far
        routes by default through the router, as hosts route through their top-of-rack.
        Returns (router netns, client netns, client address)."""
        router_ns = self.host("rt", router)
        sh("ip", "netns", "exec", router_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        client = self._add(f"{self.tag}-out")
        sh("ip", "-n", router_ns, "link", "add", "x0", "type", "veth",
           "peer", "name", "eth0", "netns", client)  # fmt: skip
        sh("ip", "-n", router_ns, "addr", "add", f"{network}.1/24", "dev", "x0")
        sh("ip", "-n", router_ns, "link", "set", "x0", "up")
        sh("ip", "-n", client, "addr", "add", f"{network}.10/24", "dev", "eth0")
        sh("ip", "-n", client, "link", "set", "eth0", "up")
        sh("ip", "-n", client, "route", "add", "default", "via", f"{network}.1")
        for host in self.hosts:
            if host != router_ns:
                sh("ip", "-n", host, "route", "replace", "default", "via", router)
        return router_ns, client, f"{network}.10"

    def container(self, short: str) -> str:
        return self._add(f"{self.tag}-c-{short}")

    def close(self) -> None:
        for process in self.listeners:
            process.kill()
        owned = [n for n in os.listdir("/run/netns") if self.tag in n] if os.path.isdir("/run/netns") else []
        for name in sorted(set(owned) | set(self.namespaces), key=len, reverse=True):
            sh("ip", "netns", "del", name, check=False)

    # --- probes ------------------------------------------------------------------------------

    def listen(self, netns: str, proto: str, port: int, *, detached: bool = False) -> int:
        """A TCP or UDP echo listener inside a container (killed when the lab closes, unless
        ``detached``: then it outlives this process too). Returns its PID once the socket is
        bound, so a connection made right after cannot be refused."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, str(PROBE), "listen", proto, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=detached,
        )
        if not detached:
            self.listeners.append(process)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            process.kill()
            raise RuntimeError(f"listener {proto}/{port} in {netns} did not start")
        return process.pid

    def connects(self, netns: str, proto: str, address: str, port: int, timeout: float = 1.0) -> bool:
        """Whether a new TCP connection (or a UDP exchange) from ``netns`` succeeds."""
        result = sh(
            "ip", "netns", "exec", netns, sys.executable, str(PROBE), "connect", proto, address, str(port),
            str(timeout), check=False,
        )  # fmt: skip
        return result.returncode == 0

    def seen_as(self, netns: str, address: str, port: int, timeout: float = 1.0) -> str | None:
        """The source address a TCP listener at ``address`` saw a connection from ``netns``
        come from (after any translation on the way); None if none got through."""
        result = sh(
            "ip", "netns", "exec", netns, sys.executable, str(PROBE), "whoami", address, str(port),
            str(timeout), check=False,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    def frame_passes(
        self, source: str, destination: str, destination_mac: str, ether_type: int, timeout: float = 1.0
    ) -> bool:
        """Whether a raw Ethernet frame of ``ether_type`` (not IP: nothing but the bridges and
        the firewall decide its fate) sent from ``source``'s eth0 arrives on ``destination``'s."""
        with in_netns(destination):
            receiver = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ether_type))
        with in_netns(source):
            sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ether_type))
        try:
            receiver.bind(("eth0", ether_type))
            sender.bind(("eth0", ether_type))
            receiver.settimeout(timeout)
            marker = uuid.uuid4().bytes
            own_mac = sender.getsockname()[4]
            header = bytes.fromhex(destination_mac.replace(":", "")) + own_mac + struct.pack("!H", ether_type)
            sender.send(header + marker + bytes(46 - len(marker)))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    frame = receiver.recv(2048)
                except TimeoutError:
                    return False
                if marker in frame:
                    return True
            return False
        finally:
            sender.close()
            receiver.close()

    def pings(self, netns: str, address: str, timeout: int = 1) -> bool:
        result = sh("ip", "netns", "exec", netns, "ping", "-c", "1", "-W", str(timeout), address, check=False)
        return result.returncode == 0


def _echo_request(ident: int) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    payload = b"overcast"
    total = sum(struct.unpack(f"!{(len(header) + len(payload)) // 2}H", header + payload))
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    return struct.pack("!BBHHH", 8, 0, checksum, ident, 1) + payload


def unanswered(namespaces: Sequence[str], address: str, timeout: float = 3.0) -> list[str]:
    """The namespaces from which an ICMP echo to ``address`` gets no reply within ``timeout``.

    All are sent at once, in process, from a raw socket made inside each namespace (a ``ping``
    per namespace would cost a process start each, more than what a benchmark measures)."""
    pending: dict[int, tuple[str, socket.socket, int]] = {}
    selector = selectors.DefaultSelector()
    try:
        for index, namespace in enumerate(namespaces):
            with in_netns(namespace):
                sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            sock.setblocking(False)
            pending[sock.fileno()] = (namespace, sock, index & 0xFFFF)
            selector.register(sock, selectors.EVENT_READ)
        deadline, resend = time.monotonic() + timeout, 0.0
        while pending and time.monotonic() < deadline:
            if time.monotonic() >= resend:  # the first echo, then again for the silent ones
                for _, sock, ident in pending.values():
                    sock.sendto(_echo_request(ident), (address, 0))
                resend = time.monotonic() + 0.5
            for key, _ in selector.select(timeout=0.05):
                namespace, sock, ident = pending[key.fd]
                data, (source, _) = sock.recvfrom(2048)
                icmp = data[(data[0] & 0x0F) * 4 :]
                if source == address and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                    selector.unregister(sock)
                    del pending[key.fd]
                    sock.close()
        return sorted(namespace for namespace, _, _ in pending.values())
    finally:
        for _, sock, _ in pending.values():
            sock.close()
        selector.close()
