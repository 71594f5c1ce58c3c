"""A probe packet from an endpoint's own network namespace (for ``overcast policy verify``):
the datapath, not the model, says whether it got through.

TCP: a connection attempt — an answer of any kind (accepted, or refused by the destination's
stack) reached the destination; silence within the timeout did not. ICMP: an echo request and
its reply. The socket is made inside the namespace (on this thread only) and used from there.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time

import dpkt

from ..dataplane.linux.netns import in_netns

PROTOCOLS = ("tcp", "icmp")


def probe(
    netns: str, destination: str, protocol: str, port: int = 0, timeout: float = 1.0
) -> tuple[bool, str]:
    """Whether a packet from ``netns`` reached ``destination`` (and what was seen). Blocking:
    run it in a worker thread."""
    if protocol == "tcp":
        with in_netns(netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with sock:
            sock.settimeout(timeout)
            try:
                code = sock.connect_ex((destination, port))
            except TimeoutError:
                return False, "no answer"
            if code == 0:
                return True, "connected"
            if code == errno.ECONNREFUSED:
                return True, "refused by the destination"
            return False, errno.errorcode.get(code, str(code))
    if protocol == "icmp":
        with in_netns(netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        with sock:
            ident = os.getpid() & 0xFFFF ^ int(time.monotonic_ns() & 0xFFFF)
            echo = dpkt.icmp.ICMP.Echo(id=ident, seq=1, data=b"overcast-verify")
            message = dpkt.icmp.ICMP(type=dpkt.icmp.ICMP_ECHO, data=echo)  # bytes() fills the checksum
            sock.sendto(bytes(message), (destination, 0))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data, (source, _) = sock.recvfrom(2048)
                except TimeoutError:
                    break
                start = (data[0] & 0x0F) * 4
                kind, _code, _sum, got = struct.unpack_from("!BBHH", data, start)
                if source == destination and kind == 0 and got == ident:
                    return True, "echo reply"
            return False, "no answer"
    raise ValueError(f"protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")
