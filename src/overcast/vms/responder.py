"""Serving DHCP on the endpoint ports of a domain namespace.

An ``AF_PACKET`` socket made inside the namespace sees what an endpoint sends on its port
before the bridge does; the reply goes back out of that port, so only that endpoint sees it and
tenants with overlapping subnets never meet. One thread per namespace reads the socket;
:func:`overcast.vms.dhcp.answer` decides. A flood is bounded: at most :data:`RATE` answers per
second per MAC (burst :data:`BURST`), the rest dropped and counted, and the socket's receive
buffer drops beyond it — the agent's loop is never involved.
"""

from __future__ import annotations

import ctypes
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping

from ..dataplane.linux.netns import in_netns
from .dhcp import Lease, answer

log = logging.getLogger("overcast.vms.dhcp")

ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
RATE, BURST = 10.0, 20.0
RECEIVE_BUFFER = 256 * 1024


class _Limiter:
    """At most :data:`RATE` answers per second per MAC (burst :data:`BURST`); ``limited``
    counts the rest."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[float, float]] = {}
        self.limited = 0

    def allowed(self, mac: str) -> bool:
        now = time.monotonic()
        tokens, at = self._tokens.get(mac, (BURST, now))
        tokens = min(BURST, tokens + (now - at) * RATE)
        if tokens < 1:
            self._tokens[mac] = (tokens, now)
            self.limited += 1
            return False
        self._tokens[mac] = (tokens - 1, now)
        if len(self._tokens) > 4096:  # a flood of spoofed MACs: forget the buckets
            self._tokens.clear()
        return True


#: Classic BPF for ``ip and udp dst port 67`` on an untagged Ethernet port (the instructions
#: ``tcpdump -dd`` prints for that expression): the socket wakes for DHCP requests only.
_DHCP_FILTER = (
    (0x28, 0, 0, 0x0000000C), (0x15, 0, 8, 0x00000800), (0x30, 0, 0, 0x00000017), (0x15, 0, 6, 0x00000011),
    (0x28, 0, 0, 0x00000014), (0x45, 4, 0, 0x00001FFF), (0xB1, 0, 0, 0x0000000E), (0x48, 0, 0, 0x00000010),
    (0x15, 0, 1, 0x00000043), (0x06, 0, 0, 0x00040000), (0x06, 0, 0, 0x00000000),
)  # fmt: skip
_SO_ATTACH_FILTER = 26


def _attach_dhcp_filter(sock: socket.socket) -> ctypes.Array[ctypes.c_char]:
    program = b"".join(struct.pack("HBBI", *instruction) for instruction in _DHCP_FILTER)
    buffer = ctypes.create_string_buffer(program)
    sock.setsockopt(
        socket.SOL_SOCKET, _SO_ATTACH_FILTER, struct.pack("HL", len(_DHCP_FILTER), ctypes.addressof(buffer))
    )
    return buffer  # the kernel copied it; kept alive with the socket all the same


class DomainDhcp:
    """Every endpoint port of one domain namespace, one socket: DHCP answered for the MAC of
    the port a request arrived on only (``leases()``: MAC -> (lease, port name)), so one
    endpoint cannot obtain another's answer by claiming its MAC, and a request seen again on
    the bridge or the VXLAN device is not answered twice. The ports' own MACs are the table's
    keys: the directory's (and the agent's) view of who is where."""

    def __init__(self, netns: str | None, leases: Callable[[], Mapping[str, tuple[Lease, str]]]) -> None:
        self.netns, self.leases = netns, leases
        # ETH_P_ALL, not ETH_P_IP: a socket for one protocol is handed frames after the bridge
        # took them (seen on the bridge, not on the port they came in by); taps for every
        # protocol see them on the port first (measured). The filter keeps the rest away.
        with in_netns(netns):
            self.socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self._filter = _attach_dhcp_filter(self.socket)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except BaseException:
            self.socket.close()
            raise
        self.limiter = _Limiter()
        self.answered = self.ignored = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dhcp-{netns}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self.socket.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self.socket], [], [], 0.5)
            if not ready:
                continue
            try:
                frame, (ifname, _proto, kind, *_rest) = self.socket.recvfrom(2048)
            except OSError as exc:
                log.info("DHCP in %s stops: %s", self.netns, exc.strerror)
                return
            if kind == socket.PACKET_OUTGOING:
                continue
            table = self.leases()
            found = answer(frame, {mac: lease for mac, (lease, port) in table.items() if port == ifname})
            if found is None:
                self.ignored += 1
                continue
            request, reply = found
            if not self.limiter.allowed(request.mac):
                continue
            try:
                self.socket.sendto(reply, (ifname, ETH_P_IP))
                self.answered += 1
            except OSError as exc:
                log.warning("DHCP reply on %s in %s failed: %s", ifname, self.netns, exc)
