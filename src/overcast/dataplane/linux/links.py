"""Links of a domain namespace: a bridge per subnet (the anycast gateway's address and MAC), a
VXLAN device per subnet (created in the host namespace so its socket binds the underlay, then
moved in; learning and every flood off, ARP suppressed), and a veth per plumbed endpoint (its
peer created directly in the container's namespace and configured there)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute

from ...policy.compiler import DomainView
from ..base import Attachment
from .netns import in_netns, netns_path
from .plan import BridgeSpec, DomainPlan, PortSpec, veth_name
from .programmed import LOOPBACK, Namespace, Programmed
from .rtnl import Batch, attr, index_of, must_index, rtnl_socket

VXLAN_PORT = 4789


@dataclass(frozen=True)
class Host:
    """What programming links needs of the host: where VXLAN devices are born, the MTU, and
    where endpoints' interfaces go."""

    socket: Callable[[], IPRoute]  # a netlink socket in the host's (underlay) namespace
    underlay_ip: str
    mtu: int
    attachments: Mapping[str, Attachment]  # vport ID -> its local wiring (the driver's, live)
    endpoint_of: Callable[[str], Any]  # vport ID -> its endpoint in the desired state


def program_links(
    namespace: Namespace,
    plan: DomainPlan,
    programmed: Programmed,
    host: Host,
) -> None:
    """Make the namespace's links the plan's: owned links it no longer has removed, bridges and
    VXLAN devices created and configured, endpoint ports enslaved (new ones created in one
    batch, their container side configured); the record follows."""
    ipr, links = namespace.ipr, programmed.links
    for name in sorted(set(links) - plan.links()):
        ipr.link("del", index=links[name])
        programmed.forget_link(name)
    for name, spec in plan.bridges.items():
        if name not in links:
            ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_mcast_snooping=0)
            links[name] = must_index(ipr, name)
        if programmed.bridges.get(name) != spec:
            _configure_bridge(ipr, links[name], spec)
            programmed.bridges[name] = spec
    for name, (vni, bridge) in plan.vxlans.items():
        if name not in links:
            links[name] = _create_vxlan(host, namespace, name, vni)
        if programmed.vxlans.get(name) != (vni, bridge):
            index = links[name]
            ipr.link("set", index=index, master=links[bridge], mtu=host.mtu)
            ipr.brport(
                "set", index=index, learning=0, neigh_suppress=1, unicast_flood=0, mcast_flood=0,
                bcast_flood=0,
            )  # fmt: skip
            ipr.link("set", index=index, state="up")
            programmed.vxlans[name] = (vni, bridge)
    created = [(name, port) for name, port in plan.ports.items() if name not in links]
    for name, port in plan.ports.items():
        if name in links and programmed.ports.get(name) != port:
            ipr.link("set", index=links[name], master=links[port.bridge], mtu=host.mtu, state="up")
            ipr.brport("set", index=links[name], learning=0, proxyarp=1)
            programmed.ports[name] = port
    if created:
        _create_ports(namespace, created, plan, programmed, host)


def _create_ports(
    namespace: Namespace,
    created: list[tuple[str, PortSpec]],
    plan: DomainPlan,
    programmed: Programmed,
    host: Host,
) -> None:
    """Endpoints' veths, all in one batch: each enslaved and up on its bridge with the next
    free ifindex, the peer created directly in the container's namespace (moving it costs
    ~16 ms, datapath.md §2.12) with its MAC and MTU; learning off (a container cannot claim
    another's MAC), proxy ARP on (the bridge answers for every known endpoint). Then each
    container side gets its address and default route via the anycast gateway."""
    links = programmed.links
    highest = max([programmed.highest_index, *links.values()])
    batch, descriptors = Batch(), {}
    endpoints = {port.vport_id: host.endpoint_of(port.vport_id) for _, port in created}
    try:
        for name, port in created:
            attachment = host.attachments[port.vport_id]
            netns = attachment.netns
            assert netns is not None  # the plan has ports for plumbed attachments only
            if netns not in descriptors:
                descriptors[netns] = os.open(netns_path(netns), os.O_RDONLY)
            highest += 1
            batch.add_veth(
                name, highest, master=links[port.bridge], mtu=host.mtu, peer=attachment.ifname,
                peer_netns_fd=descriptors[netns], peer_mac=endpoints[port.vport_id].mac,
            )  # fmt: skip
            batch.bridge_port(highest, learning=0, proxyarp=1)
            links[name], programmed.ports[name] = highest, port
        programmed.highest_index = highest
        batch.send(namespace.rtnl)
    finally:
        for descriptor in descriptors.values():
            os.close(descriptor)
    for _, port in created:
        attachment = host.attachments[port.vport_id]
        if attachment.configure:
            spec = plan.bridges[port.bridge]
            _configure_container(attachment, endpoints[port.vport_id], spec)


def _configure_container(attachment: Attachment, endpoint: Any, spec: BridgeSpec) -> None:
    container = Batch()
    with in_netns(attachment.netns):
        peer = socket.if_nametoindex(attachment.ifname)
        sock = rtnl_socket()
    try:
        container.link_up(peer)
        container.link_up(LOOPBACK)
        if endpoint.ip and spec.address:
            container.add_address(peer, endpoint.ip, spec.address[1])
            if attachment.ifname == "eth0":  # a second network's interface gets its subnet only
                container.add_default_route(spec.address[0])
        container.send(sock)
    finally:
        sock.close()


def _configure_bridge(ipr: IPRoute, index: int, spec: BridgeSpec) -> None:
    # Only when it differs: setting a link's MAC, even to the same value, flushes every
    # neighbour entry on it (permanent ones included).
    current = attr(ipr.get_links(index)[0], "IFLA_ADDRESS")
    if spec.mac and current != spec.mac.lower():
        ipr.link("set", index=index, address=spec.mac)
    have = {(attr(a, "IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=2)}
    want = {spec.address} if spec.address else set()
    for address, length in have - want:
        ipr.addr("del", index=index, address=address, prefixlen=length)
    for address, length in want - have:
        ipr.addr("add", index=index, address=address, prefixlen=length)
    ipr.link("set", index=index, state="up")


def _create_vxlan(settings: Host, namespace: Namespace, name: str, vni: int) -> int:
    # Created in the host namespace so its UDP socket binds the underlay, then moved.
    host = settings.socket()
    stale = index_of(host, name)
    if stale is not None:
        host.link("del", index=stale)
    host.link(
        "add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=settings.underlay_ip,
        vxlan_port=VXLAN_PORT, vxlan_learning=0, vxlan_ttl=64,
    )  # fmt: skip
    host.link("set", index=must_index(host, name), net_ns_fd=namespace.name)
    return must_index(namespace.ipr, name)


def interface_counts(namespace: Namespace, view: DomainView) -> dict[str, tuple[int, int, int, int]]:
    """Each local endpoint's veth counters, by vport: (rx packets, rx bytes, tx packets, tx
    bytes) on the host side — rx is what the endpoint sent, tx what was delivered to it. The
    kernel counts them anyway (Ethernet bytes, every frame: ARP included), so they cost the
    datapath nothing; they live as long as the veth (an agent restart adopts it)."""
    wanted = {veth_name(e.vport_id): e.vport_id for e in view.local}
    out: dict[str, tuple[int, int, int, int]] = {}
    for link in namespace.ipr.get_links():
        vport_id = wanted.get(attr(link, "IFLA_IFNAME"))
        stats = attr(link, "IFLA_STATS64") if vport_id else None
        if vport_id and stats is not None:
            out[vport_id] = (stats["rx_packets"], stats["rx_bytes"], stats["tx_packets"], stats["tx_bytes"])
    return out
