"""Batched rtnetlink requests: many messages in one write, acknowledged together.

pyroute2's request layer (argument filters, lookups, an event loop per call) costs ~0.5–0.9 ms a
request on this machine — more than the kernel work of an endpoint's address, route, neighbour
or FDB entry. The hot path of attaching an endpoint therefore encodes its messages with
pyroute2's own message classes (~0.1 ms each), writes them on a plain netlink socket made in the
right namespace, and reads every acknowledgement. The first error raises
:class:`pyroute2.NetlinkError` with the kernel's errno; the requests are independent (each
replace/create is idempotent), so a retry after a failure is safe.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

from pyroute2 import IPRoute, NetlinkError
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, RTM_SETLINK
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from ..base import DataplaneError

AF_BRIDGE = 7
IFF_UP = 1
NLA_F_NESTED = 0x8000
NLMSG_ERROR = 2
NTF_SELF, NTF_MASTER = 0x02, 0x04
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
RT_TABLE_MAIN, RTPROT_STATIC, RTN_UNICAST = 254, 4, 1
_CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_REPLACE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE


def rtnl_socket() -> socket.socket:
    """A route netlink socket in the calling thread's current namespace (it stays there)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock


class Batch:
    def __init__(self) -> None:
        self._messages: list[tuple[Any, int, int, str]] = []  # message, type, flags, what

    def __len__(self) -> int:
        return len(self._messages)

    def _add(self, message: Any, kind: int, flags: int, what: str) -> None:
        self._messages.append((message, kind, flags, what))

    # --- requests ------------------------------------------------------------------------------

    def link_up(self, index: int) -> None:
        message = ifinfmsg()
        message["index"], message["flags"], message["change"] = index, IFF_UP, IFF_UP
        self._add(message, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, f"link {index} up")

    def add_veth(
        self,
        name: str,
        index: int,
        *,
        master: int,
        mtu: int,
        peer: str,
        peer_netns_fd: int,
        peer_mac: str,
    ) -> None:
        """A veth pair: ``name`` up on bridge ``master`` with the ifindex asked for (so no lookup
        follows), its peer created directly in another namespace with its MAC and MTU."""
        peer_attrs = [
            ("IFLA_IFNAME", peer),
            ("IFLA_NET_NS_FD", peer_netns_fd),
            ("IFLA_ADDRESS", peer_mac),
            ("IFLA_MTU", mtu),
        ]
        message = ifinfmsg()
        message["index"], message["flags"], message["change"] = index, IFF_UP, IFF_UP
        message["attrs"] = [
            ("IFLA_IFNAME", name),
            ("IFLA_MTU", mtu),
            ("IFLA_MASTER", master),
            (
                "IFLA_LINKINFO",
                {
                    "attrs": [
                        ("IFLA_INFO_KIND", "veth"),
                        ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": peer_attrs})]}),
                    ]
                },
            ),
        ]
        self._add(message, RTM_NEWLINK, _CREATE, f"veth {name}")

    def bridge_port(self, index: int, **flags: int) -> None:
        """Bridge port flags (``learning=0, proxyarp=1`` …) of an enslaved link."""
        message = ifinfmsg()
        message["family"], message["index"] = AF_BRIDGE, index
        attrs = [(f"IFLA_BRPORT_{name.upper()}", value) for name, value in flags.items()]
        message["attrs"] = [("IFLA_PROTINFO", {"attrs": attrs}, NLA_F_NESTED)]
        self._add(message, RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, f"bridge port {index}")

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        message = ifaddrmsg()
        message["family"], message["prefixlen"], message["index"] = socket.AF_INET, prefixlen, index
        message["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
        self._add(message, RTM_NEWADDR, _CREATE, f"address {address}/{prefixlen}")

    def add_default_route(self, gateway: str) -> None:
        message = rtmsg()
        message["family"], message["dst_len"], message["table"] = socket.AF_INET, 0, RT_TABLE_MAIN
        message["proto"], message["scope"], message["type"] = RTPROT_STATIC, 0, RTN_UNICAST
        message["attrs"] = [("RTA_GATEWAY", gateway)]
        self._add(message, RTM_NEWROUTE, _CREATE, f"default route via {gateway}")

    def neighbour(self, index: int, address: str, mac: str) -> None:
        """A permanent neighbour entry (replacing any)."""
        message = ndmsg()
        message["family"], message["ifindex"], message["state"] = socket.AF_INET, index, NUD_PERMANENT
        message["attrs"] = [("NDA_DST", address), ("NDA_LLADDR", mac)]
        self._add(message, RTM_NEWNEIGH, _REPLACE, f"neighbour {address}")

    def fdb_master(self, index: int, mac: str) -> None:
        """A static entry in the bridge's forwarding table: ``mac`` is behind port ``index``."""
        message = ndmsg()
        message["family"], message["ifindex"] = AF_BRIDGE, index
        message["state"], message["flags"] = NUD_NOARP, NTF_MASTER
        message["attrs"] = [("NDA_LLADDR", mac)]
        self._add(message, RTM_NEWNEIGH, _REPLACE, f"fdb {mac} master")

    def fdb_self(self, index: int, mac: str, destination: str) -> None:
        """A VXLAN device's own entry: frames for ``mac`` go to the VTEP ``destination``."""
        message = ndmsg()
        message["family"], message["ifindex"] = AF_BRIDGE, index
        message["state"], message["flags"] = NUD_PERMANENT, NTF_SELF
        message["attrs"] = [("NDA_LLADDR", mac), ("NDA_DST", destination)]
        self._add(message, RTM_NEWNEIGH, _REPLACE, f"fdb {mac} to {destination}")

    # --- sending -------------------------------------------------------------------------------

    #: Requests per write: the kernel queues one acknowledgement per request on the socket, and
    #: thousands at once (a full sync of a big domain) overflow its buffer (ENOBUFS).
    CHUNK = 256

    def send(self, sock: socket.socket) -> None:
        """Write the requests in chunks, collecting one acknowledgement per request."""
        failure: tuple[int, str] | None = None
        for start in range(0, len(self._messages), self.CHUNK):
            chunk = self._messages[start : start + self.CHUNK]
            found = self._send_chunk(sock, chunk, first_sequence=start + 1)
            failure = failure or found
        self._messages.clear()
        if failure is not None:
            code, what = failure
            raise NetlinkError(code, f"{what}: {errno.errorcode.get(code, code)}")

    @staticmethod
    def _send_chunk(
        sock: socket.socket, chunk: list[tuple[Any, int, int, str]], first_sequence: int
    ) -> tuple[int, str] | None:
        encoded = []
        for sequence, (message, kind, flags, _) in enumerate(chunk, first_sequence):
            message["header"]["type"], message["header"]["flags"] = kind, flags
            message["header"]["sequence_number"] = sequence
            message.encode()
            encoded.append(message.data)
        sock.sendall(b"".join(encoded))
        pending = set(range(first_sequence, first_sequence + len(chunk)))
        failure = None
        while pending:
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _flags, sequence, _pid = struct.unpack_from("=IHHII", data, offset)
                if kind == NLMSG_ERROR and sequence in pending:
                    pending.discard(sequence)
                    (error,) = struct.unpack_from("=i", data, offset + 16)
                    if error and failure is None:
                        failure = (-error, chunk[sequence - first_sequence][3])
                offset += (length + 3) & ~3 if length else len(data)
        return failure


# --- pyroute2 messages --------------------------------------------------------------------------


def attr(message: Any, name: str) -> Any:
    return message.get_attr(name)


def index_of(ipr: IPRoute, ifname: str) -> int | None:
    """A link's ifindex by name — one request (``link_lookup`` dumps every link)."""
    try:
        return int(ipr.link("get", ifname=ifname)[0]["index"])
    except NetlinkError as exc:
        if exc.code == 19:  # ENODEV
            return None
        raise


def must_index(ipr: IPRoute, ifname: str) -> int:
    index = index_of(ipr, ifname)
    if index is None:
        raise DataplaneError(f"link {ifname} is missing")
    return index
