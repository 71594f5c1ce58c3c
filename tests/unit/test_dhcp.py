"""DHCP answers, pure: DISCOVER → OFFER and REQUEST → ACK with the directory's address and the
subnet's options; a REQUEST for another address → NAK (broadcast); INFORM → ACK without an
address or lease; RELEASE, unknown MACs and what is not DHCP → nothing."""

from __future__ import annotations

import socket
import struct

import dpkt
from dpkt import dhcp

from overcast.vms.dhcp import Lease, answer

MAC = "52:54:00:00:00:01"
LEASE = {MAC: Lease(MAC, "10.1.0.7", 24, "10.1.0.1", "0e:0c:00:00:10:01", mtu=1450, dns=("10.1.0.2",))}


def request(
    kind: int, mac: str = MAC, *, requested: str | None = None, ciaddr: str = "0.0.0.0", flags: int = 0
) -> bytes:
    options = [(dhcp.DHCP_OPT_MSGTYPE, bytes([kind]))]
    if requested:
        options.append((dhcp.DHCP_OPT_REQ_IP, socket.inet_aton(requested)))
    message = dhcp.DHCP(
        op=dhcp.DHCP_OP_REQUEST,
        xid=0x1234,
        flags=flags,
        chaddr=bytes.fromhex(mac.replace(":", "")),
        ciaddr=struct.unpack("!I", socket.inet_aton(ciaddr))[0],
        opts=options,
    )
    udp = dpkt.udp.UDP(sport=68, dport=67, data=bytes(message))
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=socket.inet_aton(ciaddr), dst=b"\xff" * 4, p=17, data=udp)
    ip.len = len(ip)
    return bytes(dpkt.ethernet.Ethernet(dst=b"\xff" * 6, src=bytes.fromhex(mac.replace(":", "")), data=ip))


def reply(frame: bytes) -> tuple[dpkt.ethernet.Ethernet, dhcp.DHCP, dict[int, bytes]]:
    found = answer(frame, LEASE)
    assert found is not None
    eth = dpkt.ethernet.Ethernet(found[1])
    message = dhcp.DHCP(eth.data.data.data)
    return eth, message, dict(message.opts)


def test_offer_and_ack_carry_the_directory_address() -> None:
    for kind, expected in ((dhcp.DHCPDISCOVER, dhcp.DHCPOFFER), (dhcp.DHCPREQUEST, dhcp.DHCPACK)):
        eth, message, options = reply(request(kind, requested="10.1.0.7"))
        assert options[dhcp.DHCP_OPT_MSGTYPE] == bytes([expected]) and message.xid == 0x1234
        assert socket.inet_ntoa(struct.pack("!I", message.yiaddr)) == "10.1.0.7"
        assert options[dhcp.DHCP_OPT_NETMASK] == socket.inet_aton("255.255.255.0")
        assert options[dhcp.DHCP_OPT_ROUTER] == socket.inet_aton("10.1.0.1")
        assert options[dhcp.DHCP_OPT_SERVER_ID] == socket.inet_aton("10.1.0.1")
        assert options[dhcp.DHCP_OPT_MTUSIZE] == struct.pack("!H", 1450)
        assert options[dhcp.DHCP_OPT_DNS_SVRS] == socket.inet_aton("10.1.0.2")
        assert eth.dst == bytes.fromhex("525400000001") and eth.src == bytes.fromhex("0e0c00001001")
    # Renewing (ciaddr, no option 50) is acknowledged too; asking for broadcast gets broadcast.
    eth, _, options = reply(request(dhcp.DHCPREQUEST, ciaddr="10.1.0.7", flags=0x8000))
    assert options[dhcp.DHCP_OPT_MSGTYPE] == bytes([dhcp.DHCPACK]) and eth.dst == b"\xff" * 6


def test_another_address_is_refused_and_inform_gets_no_lease() -> None:
    eth, message, options = reply(request(dhcp.DHCPREQUEST, requested="10.1.0.99"))
    assert options[dhcp.DHCP_OPT_MSGTYPE] == bytes([dhcp.DHCPNAK]) and message.yiaddr == 0
    assert eth.dst == b"\xff" * 6 and dhcp.DHCP_OPT_LEASE_SEC not in options
    _, message, options = reply(request(dhcp.DHCPINFORM, ciaddr="10.1.0.7"))
    assert options[dhcp.DHCP_OPT_MSGTYPE] == bytes([dhcp.DHCPACK]) and message.yiaddr == 0
    assert dhcp.DHCP_OPT_LEASE_SEC not in options and dhcp.DHCP_OPT_ROUTER in options


def test_nothing_else_is_answered() -> None:
    assert answer(request(dhcp.DHCPRELEASE, ciaddr="10.1.0.7"), LEASE) is None
    assert answer(request(dhcp.DHCPDISCOVER, mac="52:54:00:00:00:02"), LEASE) is None
    assert answer(b"\x00" * 60, LEASE) is None
    assert answer(request(dhcp.DHCPDISCOVER)[:40], LEASE) is None
