"""What the Linux driver holds per domain namespace: its kernel handles, and the record of what
it last programmed there — the cache of the kernel it trusts between full syncs, which each part
(links, forwarding, firewall) updates as it programs its own share."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from pyroute2 import IPRoute

from .libnft import Nft
from .nat import UplinkSpec
from .plan import BridgeSpec, FdbKey, PortSpec

LOOPBACK = 1  # the loopback's ifindex in every namespace


@dataclass
class Namespace:
    """A domain namespace's handles, and what the driver last programmed into it."""

    name: str
    ipr: IPRoute
    nft: Nft
    rtnl: socket.socket  # for batched requests (:mod:`.rtnl`)
    #: The cache: None until read from the kernel (first sync, or after a failure).
    programmed: Programmed | None = None
    #: The firewall shape this process last loaded (kept across full syncs): loading a
    #: different one means the rules changed, and tracked flows must be judged again.
    loaded_table: str | None = None

    def close(self) -> None:
        self.ipr.close()
        self.nft.close()
        self.rtnl.close()


@dataclass
class Programmed:
    links: dict[str, int] = field(default_factory=dict)  # owned link -> ifindex
    bridges: dict[str, BridgeSpec] = field(default_factory=dict)  # configured as
    vxlans: dict[str, tuple[int, str]] = field(default_factory=dict)
    ports: dict[str, PortSpec] = field(default_factory=dict)
    neighbours: dict[tuple[str, str], str] = field(default_factory=dict)
    fdb: dict[FdbKey, str | None] = field(default_factory=dict)
    table: str | None = None  # the firewall's shape as last loaded (None: load it)
    sets: dict[str, frozenset[str]] = field(default_factory=dict)
    #: The highest ifindex of any link in the namespace (ours or not): new endpoint ports are
    #: created with the indexes after it, so creating them needs no lookup.
    highest_index: int = LOOPBACK
    uplink: UplinkSpec | None = None  # as last programmed (None after a restart: reprogrammed)

    def forget_link(self, name: str) -> None:
        self.links.pop(name, None)
        self.bridges.pop(name, None)
        self.vxlans.pop(name, None)
        self.ports.pop(name, None)
        self.fdb = {k: v for k, v in self.fdb.items() if k[0] != name}
        self.neighbours = {k: v for k, v in self.neighbours.items() if k[0] != name}
