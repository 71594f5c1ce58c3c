"""What one domain namespace must hold, as plain data (pure: no kernel, no I/O).

The driver computes a :class:`DomainPlan` from the domain's view and the local attachments, and
compares it with what it last programmed (or read back from the kernel): only the difference is
written. Everything is named, never numbered — ifindexes belong to the kernel and are resolved
by the driver — so two plans compare equal exactly when the namespace should look the same.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ...policy.compiler import DomainView
from ...vms.dhcp import Lease
from ..base import Attachment
from .nat import HOST_LINK, UplinkSpec, needs_uplink, uplink_spec
from .nftables import ruleset, set_contents, short_hash

#: Every link the driver owns starts with one of these (bridges, VXLAN devices, endpoint veths).
BRIDGE, VXLAN, VETH = "ob", "ox", "ov"
OWNED_LINK_PREFIXES = (BRIDGE, VXLAN, VETH)

#: The kernel's limit of ports per bridge (BR_MAX_PORTS - 1); one is the subnet's VXLAN device.
MAX_BRIDGE_PORTS = 1023

#: An FDB entry: (device, MAC, "master" for the bridge's table | "self" for the VXLAN's own).
FdbKey = tuple[str, str, str]


def veth_name(vport_id: str) -> str:
    return VETH + short_hash(vport_id)


@dataclass(frozen=True)
class BridgeSpec:
    mac: str | None  # the anycast gateway MAC (the same on every host)
    address: tuple[str, int] | None  # the anycast gateway (address, prefix length)


@dataclass(frozen=True)
class PortSpec:
    bridge: str
    vport_id: str


@dataclass(frozen=True)
class DomainPlan:
    bridges: dict[str, BridgeSpec]
    vxlans: dict[str, tuple[int, str]]  # name -> (VNI, bridge)
    ports: dict[str, PortSpec]  # endpoint veth -> its bridge
    neighbours: dict[tuple[str, str], str]  # (bridge, IP) -> MAC, permanent
    fdb: dict[FdbKey, str | None]  # -> the remote VTEP for "self" entries, else None
    table: str  # the firewall's shape (every set empty): a change here reloads the table
    sets: dict[str, frozenset[str]]  # nft set name -> CIDRs
    #: Local endpoints left unplumbed, and why (a subnet with more local endpoints than a
    #: bridge has ports: they get nothing — fail closed — until others leave).
    refused: dict[str, str]
    #: North-south (:mod:`.nat`): the uplink to the host namespace, when this host translates
    #: or routes for the domain.
    uplink: UplinkSpec | None = None

    def links(self) -> set[str]:
        return set(self.bridges) | set(self.vxlans) | set(self.ports)

    def master_of(self, device: str) -> str:
        """The bridge a port belongs to."""
        if device in self.ports:
            return self.ports[device].bridge
        return self.vxlans[device][1]


def uplink_name(domain_id: str) -> str:
    """The host namespace's end of a domain's uplink."""
    return HOST_LINK + short_hash(domain_id)


def plan_domain(
    view: DomainView,
    attachments: Mapping[str, Attachment],
    present: Collection[str],
    host_id: str,
    uplink_index: int | None = None,
) -> DomainPlan:
    """The namespace for ``view`` on ``host_id``. A local endpoint gets a veth when the local API
    said where its interface goes (an attachment with a namespace), or when its veth is already
    there (plumbed by an earlier run of the agent: adopted as it is). ``uplink_index``: the
    number of the domain's uplink on this host, when it needs one (:func:`.nat.needs_uplink`)."""
    bridges: dict[str, BridgeSpec] = {}
    vxlans: dict[str, tuple[int, str]] = {}
    bridge_of_subnet: dict[str, str] = {}
    vxlan_of_subnet: dict[str, str] = {}
    for subnet in view.subnets:
        if subnet.vni is None or not subnet.prefix:
            continue
        bridge, vxlan = f"{BRIDGE}{subnet.vni}", f"{VXLAN}{subnet.vni}"
        prefixlen = ipaddress.IPv4Network(subnet.prefix).prefixlen
        address = (subnet.gateway, prefixlen) if subnet.gateway else None
        bridges[bridge] = BridgeSpec(subnet.gateway_mac, address)
        vxlans[vxlan] = (subnet.vni, bridge)
        bridge_of_subnet[subnet.id], vxlan_of_subnet[subnet.id] = bridge, vxlan
    ports: dict[str, PortSpec] = {}
    port_of_vport: dict[str, str] = {}
    refused: dict[str, str] = {}
    used: dict[str, int] = dict.fromkeys(bridges, 1)  # the VXLAN port
    # Ports already there first, so a full bridge never trades a running endpoint for a new one.
    for endpoint in sorted(view.local, key=lambda e: veth_name(e.vport_id) not in present):
        port_bridge = bridge_of_subnet.get(endpoint.subnet_id)
        if port_bridge is None:
            continue
        veth = veth_name(endpoint.vport_id)
        attachment = attachments.get(endpoint.vport_id)
        if (attachment is not None and attachment.netns is not None) or veth in present:
            if used[port_bridge] >= MAX_BRIDGE_PORTS:
                refused[endpoint.vport_id] = (
                    f"bridge {port_bridge} has {MAX_BRIDGE_PORTS} ports, the kernel's limit"
                )
                continue
            used[port_bridge] += 1
            ports[veth] = PortSpec(port_bridge, endpoint.vport_id)
            port_of_vport[endpoint.vport_id] = veth
    neighbours: dict[tuple[str, str], str] = {}
    fdb: dict[FdbKey, str | None] = {}
    for endpoint in (*view.local, *view.remote):
        subnet_bridge = bridge_of_subnet.get(endpoint.subnet_id)
        if subnet_bridge is None:
            continue
        if endpoint.ip:
            neighbours[(subnet_bridge, endpoint.ip)] = endpoint.mac
        if endpoint.host_id == host_id:
            if endpoint.vport_id in port_of_vport:
                fdb[(port_of_vport[endpoint.vport_id], endpoint.mac, "master")] = None
        elif endpoint.vtep:
            vxlan = vxlan_of_subnet[endpoint.subnet_id]
            fdb[(vxlan, endpoint.mac, "master")] = None
            fdb[(vxlan, endpoint.mac, "self")] = endpoint.vtep
    sets = set_contents(view)
    shape = ruleset(view, sets, with_elements=False)
    uplink = None
    if needs_uplink(view):
        if uplink_index is None:
            raise ValueError(f"domain {view.id} needs an uplink: give its number")
        uplink = uplink_spec(view, uplink_name(view.id), uplink_index)
    return DomainPlan(bridges, vxlans, ports, neighbours, fdb, shape, sets, refused, uplink)


def dhcp_leases(view: DomainView, mtu: int) -> dict[str, tuple[Lease, str]]:
    """What each local endpoint's DHCP is answered with, and on which port: MAC -> (lease, the
    endpoint's veth). Endpoints of a subnet without a gateway MAC (an L2 domain) get none."""
    subnets = {s.id: s for s in view.subnets}
    out: dict[str, tuple[Lease, str]] = {}
    for endpoint in view.local:
        subnet = subnets.get(endpoint.subnet_id)
        if endpoint.ip is None or subnet is None or not subnet.prefix or not subnet.gateway_mac:
            continue
        mac = endpoint.mac.lower()
        prefix_length = int(subnet.prefix.split("/")[1])
        lease = Lease(mac, endpoint.ip, prefix_length, subnet.gateway, subnet.gateway_mac, mtu=mtu)
        out[mac] = (lease, veth_name(endpoint.vport_id))
    return out
