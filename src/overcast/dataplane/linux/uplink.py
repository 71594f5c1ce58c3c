"""The uplink of a domain namespace (see :mod:`.nat`): the veth pair to the host namespace, its
/31, the domain's default route, the host's routes into the domain (floating IPs, advertised
subnets) and the domain's NAT table — programmed where they differ from what was, idempotent
after a restart (links and addresses are read back; routes are replaced; the NAT table is
reloaded, which keeps translated flows: their translation lives in conntrack)."""

from __future__ import annotations

from collections.abc import Callable

from pyroute2 import IPRoute

from . import kernel
from .nat import NAT_TABLE, UPLINK, UplinkSpec
from .programmed import Namespace, Programmed
from .rtnl import attr, index_of, must_index

#: Removes the NAT table if there is one (creating it first makes the delete always valid).
_NO_NAT = f"table ip {NAT_TABLE} {{}}\ndelete table ip {NAT_TABLE}\n"


def program_uplink(
    namespace: Namespace,
    spec: UplinkSpec | None,
    programmed: Programmed,
    host_ipr: IPRoute,
    host_ready: Callable[[], None],
) -> None:
    """Make the uplink ``spec`` (None: none); the record follows. ``host_ready`` prepares the
    host namespace once (forwarding, its masquerade)."""
    before = programmed.uplink
    if spec == before and spec is not None:
        return
    if spec is None:
        index = index_of(namespace.ipr, UPLINK)
        if index is not None:
            namespace.ipr.link("del", index=index)  # its peer, and the host's routes by it, go too
        namespace.nft.run(_NO_NAT)
        if before is not None:
            kernel.forget_translated(namespace.name, before.floating)
        programmed.uplink = None
        return
    host_ready()
    host_index, domain_index = index_of(host_ipr, spec.host_link), index_of(namespace.ipr, UPLINK)
    if host_index is None or domain_index is None:  # (re)create the pair whole
        for ipr, index in ((host_ipr, host_index), (namespace.ipr, domain_index)):
            if index is not None:
                ipr.link("del", index=index)
        host_ipr.link(
            "add", ifname=spec.host_link, kind="veth", peer={"ifname": UPLINK, "net_ns_fd": namespace.name}
        )
        host_index, domain_index = must_index(host_ipr, spec.host_link), must_index(namespace.ipr, UPLINK)
    _address(host_ipr, host_index, spec.host_address)
    _address(namespace.ipr, domain_index, spec.domain_address)
    namespace.ipr.route("replace", dst="0.0.0.0", dst_len=0, gateway=spec.host_address, oif=domain_index)
    have = _routes_via(host_ipr, host_index)
    for prefix in sorted(spec.routes - have):
        network, length = prefix.split("/")
        host_ipr.route(
            "replace", dst=network, dst_len=int(length), gateway=spec.domain_address, oif=host_index
        )
    for prefix in sorted(have - spec.routes):
        network, length = prefix.split("/")
        host_ipr.route("del", dst=network, dst_len=int(length), oif=host_index)
    if before is None or before.nat != spec.nat:
        namespace.nft.run(spec.nat)
    if before is not None and before.floating - spec.floating:
        kernel.forget_translated(namespace.name, before.floating - spec.floating)
    programmed.uplink = spec


def _address(ipr: IPRoute, index: int, address: str) -> None:
    """The link's only IPv4 address is ``address``/31, and the link is up."""
    have = {(attr(a, "IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=2)}
    for other, length in have - {(address, 31)}:
        ipr.addr("del", index=index, address=other, prefixlen=length)
    if (address, 31) not in have:
        ipr.addr("add", index=index, address=address, prefixlen=31)
    ipr.link("set", index=index, state="up")


def _routes_via(ipr: IPRoute, index: int) -> set[str]:
    """The gateway routes through a link (not its connected /31)."""
    found = set()
    for route in ipr.get_routes(family=2, oif=index):
        if attr(route, "RTA_GATEWAY") and attr(route, "RTA_OIF") == index:
            found.add(f"{attr(route, 'RTA_DST') or '0.0.0.0'}/{route['dst_len']}")
    return found
