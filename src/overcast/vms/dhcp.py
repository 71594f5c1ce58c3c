"""DHCP answers from the directory's allocation, nothing else (pure: frames in, frames out).

There is no pool and no lease database: the directory allocated the address, the agent was told
it with the port, and a VM asking by its MAC gets exactly that (RFC 2131 message rules):
DISCOVER → OFFER; REQUEST → ACK when it asks for that address (option 50, or ``ciaddr`` when
renewing), NAK otherwise; INFORM → ACK with the options and no address; RELEASE and DECLINE
are not answered; a MAC the agent was not told about gets nothing. Packets are parsed and built
with dpkt (a small, maintained packet library) rather than by hand.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import dpkt
from dpkt import dhcp

#: The replies a request gets: DHCP message type -> reply type (NAK decided per request).
_ANSWERED = {dhcp.DHCPDISCOVER: dhcp.DHCPOFFER, dhcp.DHCPREQUEST: dhcp.DHCPACK, dhcp.DHCPINFORM: dhcp.DHCPACK}
_BROADCAST_FLAG = 0x8000
_BROADCAST_MAC = b"\xff" * 6


@dataclass(frozen=True)
class Lease:
    """What one VM's interface is told: the directory's address and its subnet."""

    mac: str  # lower case, colon-separated
    ip: str
    prefix_length: int
    gateway: str | None
    server_mac: str  # the subnet's gateway MAC: the replies' source
    mtu: int = 1450  # the overlay's
    seconds: int = 3600
    hostname: str | None = None
    dns: tuple[str, ...] = ()

    @property
    def server_ip(self) -> str:
        """The server identifier: the gateway (every host answers as it: anycast)."""
        if self.gateway:
            return self.gateway
        network = ipaddress.IPv4Network(f"{self.ip}/{self.prefix_length}", strict=False)
        return str(next(network.hosts()))


@dataclass(frozen=True)
class Request:
    mac: str
    kind: int  # the DHCP message type
    xid: int
    flags: int
    ciaddr: str
    requested: str | None  # option 50


def parse(frame: bytes) -> Request | None:
    """A client's DHCP message in an Ethernet frame (None: not one)."""
    try:
        eth = dpkt.ethernet.Ethernet(frame)
    except (dpkt.UnpackError, struct.error, ValueError):
        return None
    ip = eth.data
    if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.udp.UDP) or ip.data.dport != 67:
        return None
    try:
        message = dhcp.DHCP(ip.data.data)
    except (dpkt.UnpackError, struct.error, ValueError):
        return None
    if message.op != dhcp.DHCP_OP_REQUEST or message.hln != 6:
        return None
    options = dict(message.opts)
    kind = options.get(dhcp.DHCP_OPT_MSGTYPE, b"")
    requested = options.get(dhcp.DHCP_OPT_REQ_IP)
    return Request(
        mac=message.chaddr[:6].hex(":"),
        kind=kind[0] if len(kind) == 1 else 0,
        xid=message.xid,
        flags=message.flags,
        ciaddr=socket.inet_ntoa(struct.pack("!I", message.ciaddr)),
        requested=socket.inet_ntoa(requested) if requested is not None and len(requested) == 4 else None,
    )


def reply_kind(request: Request, lease: Lease) -> int | None:
    """The message type answering ``request`` (None: no answer)."""
    answer = _ANSWERED.get(request.kind)
    if answer is None:
        return None
    if request.kind == dhcp.DHCPREQUEST:
        wanted = request.requested or request.ciaddr
        return dhcp.DHCPACK if wanted == lease.ip else dhcp.DHCPNAK
    return answer


def answer(frame: bytes, leases: Mapping[str, Lease]) -> tuple[Request, bytes] | None:
    """The reply frame to a DHCP request frame, with the request (None: not DHCP, a MAC not in
    ``leases``, or a message that gets no answer)."""
    request = parse(frame)
    if request is None:
        return None
    lease = leases.get(request.mac)
    if lease is None:
        return None
    kind = reply_kind(request, lease)
    if kind is None:
        return None
    return request, build_reply(request, lease, kind)


def _address(text: str) -> int:
    return int(struct.unpack("!I", socket.inet_aton(text))[0])


def build_reply(request: Request, lease: Lease, kind: int) -> bytes:
    server = socket.inet_aton(lease.server_ip)
    network = ipaddress.IPv4Network(f"{lease.ip}/{lease.prefix_length}", strict=False)
    options: list[tuple[int, bytes]] = [
        (dhcp.DHCP_OPT_MSGTYPE, bytes([kind])),
        (dhcp.DHCP_OPT_SERVER_ID, server),
    ]
    your_address = 0
    if kind != dhcp.DHCPNAK:
        if request.kind != dhcp.DHCPINFORM:  # INFORM: the client has its address, no lease
            your_address = _address(lease.ip)
            options.append((dhcp.DHCP_OPT_LEASE_SEC, struct.pack("!I", lease.seconds)))
        options += [
            (dhcp.DHCP_OPT_NETMASK, network.netmask.packed),
            (dhcp.DHCP_OPT_BROADCASTADDR, network.broadcast_address.packed),
            (dhcp.DHCP_OPT_MTUSIZE, struct.pack("!H", lease.mtu)),
        ]
        if lease.gateway:
            options.append((dhcp.DHCP_OPT_ROUTER, socket.inet_aton(lease.gateway)))
        if lease.dns:
            options.append((dhcp.DHCP_OPT_DNS_SVRS, b"".join(socket.inet_aton(d) for d in lease.dns)))
        if lease.hostname:
            options.append((dhcp.DHCP_OPT_HOSTNAME, lease.hostname.encode()[:63]))
    client_mac = bytes.fromhex(request.mac.replace(":", ""))
    message = dhcp.DHCP(
        op=dhcp.DHCP_OP_REPLY,
        xid=request.xid,
        flags=request.flags,
        ciaddr=_address(request.ciaddr) if request.kind == dhcp.DHCPINFORM else 0,
        yiaddr=your_address,
        siaddr=0,
        chaddr=client_mac + b"\0" * 10,
        opts=options,
    )
    # A NAK, or a client that asked for broadcast, is answered by broadcast; else unicast to
    # the address it is being given (it accepts it before configuring: RFC 2131 §4.1).
    broadcast = kind == dhcp.DHCPNAK or bool(request.flags & _BROADCAST_FLAG) or not your_address
    destination_ip = b"\xff" * 4 if broadcast else struct.pack("!I", your_address)
    if request.kind == dhcp.DHCPINFORM and not broadcast:
        destination_ip = socket.inet_aton(request.ciaddr)
    udp = dpkt.udp.UDP(sport=67, dport=68, data=bytes(message))
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=server, dst=destination_ip, p=dpkt.ip.IP_PROTO_UDP, ttl=64, data=udp)
    ip.len = len(ip)  # the checksums (IP, UDP) dpkt computes when packing
    eth = dpkt.ethernet.Ethernet(
        dst=_BROADCAST_MAC if broadcast else client_mac,
        src=bytes.fromhex(lease.server_mac.replace(":", "")),
        type=dpkt.ethernet.ETH_TYPE_IP,
        data=ip,
    )
    return bytes(eth)
