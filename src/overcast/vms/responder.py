"""Serving DHCP on one interface (a VM's tap, or any port) inside a domain namespace.

An ``AF_PACKET`` socket made inside the namespace and bound to the interface sees what the VM
sends before the bridge does; replies go back out of the same interface, so only that VM sees
them and tenants with overlapping subnets never meet. One thread per responder reads the socket;
:func:`overcast.vms.dhcp.answer` decides. A flood is bounded: at most :data:`RATE` answers per
second per MAC (burst :data:`BURST`), the rest dropped and counted, and the socket's receive
buffer drops beyond it — the agent's loop is never involved.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping

from ..dataplane.linux.netns import in_netns
from .dhcp import Lease, answer

log = logging.getLogger("overcast.vms.dhcp")

ETH_P_IP = 0x0800
RATE, BURST = 10.0, 20.0
RECEIVE_BUFFER = 256 * 1024


class DhcpResponder:
    """Answers DHCP on ``ifname`` in ``netns`` from ``leases()`` (read per request: the agent's
    current table) until :meth:`close`, or until the interface goes away."""

    def __init__(self, netns: str | None, ifname: str, leases: Callable[[], Mapping[str, Lease]]) -> None:
        self.netns, self.ifname, self.leases = netns, ifname, leases
        with in_netns(netns):
            self.socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
                self.socket.bind((ifname, ETH_P_IP))
            except BaseException:
                self.socket.close()
                raise
        self.answered = 0
        self.ignored = 0  # not DHCP for us: unknown MACs, messages not answered
        self.limited = 0  # over a MAC's rate
        self._tokens: dict[str, tuple[float, float]] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dhcp-{ifname}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self.socket.close()

    def _allowed(self, mac: str) -> bool:
        now = time.monotonic()
        tokens, at = self._tokens.get(mac, (BURST, now))
        tokens = min(BURST, tokens + (now - at) * RATE)
        if tokens < 1:
            self._tokens[mac] = (tokens, now)
            return False
        self._tokens[mac] = (tokens - 1, now)
        if len(self._tokens) > 4096:  # a spoofing flood of MACs: forget the buckets
            self._tokens.clear()
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self.socket], [], [], 0.5)
            if not ready:
                continue
            try:
                frame, address = self.socket.recvfrom(2048)
            except OSError as exc:  # ENETDOWN, ENODEV: the interface went away with its VM
                log.info("DHCP on %s stops: %s", self.ifname, exc.strerror)
                return
            if address[2] == socket.PACKET_OUTGOING:
                continue  # our own replies
            found = answer(frame, self.leases())
            if found is None:
                self.ignored += 1
                continue
            request, reply = found
            if not self._allowed(request.mac):
                self.limited += 1
                continue
            try:
                self.socket.send(reply)
                self.answered += 1
            except OSError as exc:
                log.warning("DHCP reply on %s failed: %s", self.ifname, exc)
