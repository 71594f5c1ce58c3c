"""The reachability oracle: would this packet pass, and which entry (or default) decided?

One source of truth for tests, for the in-memory dataplane's packet trace and for
``overcast policy explain``. It reads compiled views only, so it judges exactly what hosts are
told to enforce.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .compiler import DomainView, Endpoint, HostView, Key, Rule, domain_view

IPV4 = 0x0800


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    protocol: int = 6
    sport: int = 40000
    dport: int = 80
    icmp_type: int | None = None
    icmp_code: int | None = None
    ether_type: int = IPV4


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: the deciding ACL entry's ID, or "default" (the policies' defaults), or "no-endpoint"
    decided_by: str
    stateful: bool = False


@dataclass(frozen=True)
class Verdict:
    """A new flow from one endpoint to another: the source's ingress and the destination's egress."""

    allowed: bool
    ingress: Decision
    egress: Decision


def covers(cidrs: frozenset[str], address: str) -> bool:
    """Whether a set of CIDRs holds an address (host prefixes by lookup: most sets are policy
    groups of host addresses, and parsing each of them per check made the oracle 20x slower;
    the prefixes of a set are parsed once, as (network, mask) integers — compliance asks
    about the same sets hundreds of thousands of times)."""
    if f"{address}/32" in cidrs:
        return True
    prefixes = _prefixes(cidrs)
    if not prefixes:
        return False
    ip = _address(address)
    return any(ip & mask == network for network, mask in prefixes)


@functools.lru_cache(maxsize=8192)
def _prefixes(cidrs: frozenset[str]) -> tuple[tuple[int, int], ...]:
    parsed = (ipaddress.IPv4Network(c) for c in cidrs if not c.endswith("/32"))
    return tuple((int(n.network_address), int(n.netmask)) for n in parsed)


@functools.lru_cache(maxsize=65536)
def _address(address: str) -> int:
    return int(ipaddress.IPv4Address(address))


def _relative(view: DomainView, keyword: str, local: Endpoint, remote_ip: str) -> bool:
    if keyword == "ENDPOINT_DOMAIN":
        prefixes = frozenset(s.prefix for s in view.subnets if s.prefix)
    elif keyword == "ENDPOINT_ZONE":
        prefixes = frozenset(s.prefix for s in view.subnets if s.zone_id == local.zone_id and s.prefix)
    else:
        prefixes = frozenset(s.prefix for s in view.subnets if s.id == local.subnet_id and s.prefix)
    return covers(prefixes, remote_ip)


def _in_range(value: int, bounds: tuple[int, int] | None) -> bool:
    return bounds is None or bounds[0] <= value <= bounds[1]


def rule_matches(view: DomainView, rule: Rule, local: Endpoint, remote_ip: str, packet: Packet) -> bool:
    if rule.ether_type is not None and rule.ether_type != packet.ether_type:
        return False
    is_ip = packet.ether_type == IPV4
    if rule.local is not None and (local.ip is None or not covers(view.set(rule.local), local.ip)):
        return False
    if rule.remote is not None:
        if not is_ip:
            return False
        if rule.remote.startswith("ENDPOINT_"):
            if not _relative(view, rule.remote, local, remote_ip):
                return False
        elif not covers(view.set(rule.remote), remote_ip):
            return False
    if rule.protocol is not None:
        if not is_ip or rule.protocol != packet.protocol:
            return False
        if packet.protocol in (6, 17):
            if not _in_range(packet.sport, rule.source_ports) or not _in_range(
                packet.dport, rule.destination_ports
            ):
                return False
        if packet.protocol in (1, 58):
            if rule.icmp_type is not None and rule.icmp_type != packet.icmp_type:
                return False
            if rule.icmp_code is not None and rule.icmp_code != packet.icmp_code:
                return False
    return True


def decide(view: DomainView, direction: str, local: Endpoint, packet: Packet) -> Decision:
    """The decision of one direction's policy at the local endpoint's host.

    ``ingress``: the packet leaves ``local`` (its source); ``egress``: it arrives at ``local``.
    """
    rules = view.ingress if direction == "ingress" else view.egress
    defaults = view.ingress_defaults if direction == "ingress" else view.egress_defaults
    remote_ip = packet.dst if direction == "ingress" else packet.src
    for rule in rules:
        if rule_matches(view, rule, local, remote_ip, packet):
            return Decision(rule.action == "FORWARD", rule.entry_id, rule.stateful)
    allowed = defaults.allow_ip if packet.ether_type == IPV4 else defaults.allow_non_ip
    return Decision(allowed, "default")


def _find(hosts: dict[str, HostView], ip: str) -> tuple[DomainView, Endpoint] | None:
    for host in hosts.values():
        for view in host.domains:
            for endpoint in view.local:
                if endpoint.ip == ip:
                    return view, endpoint
    return None


def verdict(hosts: dict[str, HostView], packet: Packet) -> Verdict:
    """A new flow between two endpoints, judged where it is enforced (fail closed if unknown)."""
    source = _find(hosts, packet.src)
    destination = _find(hosts, packet.dst)
    unknown = Decision(False, "no-endpoint")
    ingress = decide(source[0], "ingress", source[1], packet) if source else unknown
    egress = decide(destination[0], "egress", destination[1], packet) if destination else unknown
    same_domain = bool(source and destination and source[0].id == destination[0].id)
    return Verdict(ingress.allowed and egress.allowed and same_domain, ingress, egress)


def explain(
    source: tuple[str, Endpoint],
    destination: tuple[str, Endpoint],
    entries_of: Mapping[str, Iterable[tuple[Key, Any]]],
    packet: Packet,
) -> Verdict:
    """A new flow between two endpoints named by (domain ID, endpoint) — unambiguous even when
    tenants reuse addresses — judged from their domains' entries as each endpoint's host sees
    them: ingress at the source's host, egress at the destination's. Endpoints of different
    domains never meet, whatever the rules say."""
    (source_domain, src), (destination_domain, dst) = source, destination
    if source_domain != destination_domain:
        other = Decision(False, "another domain")
        return Verdict(False, other, other)
    entries = list(entries_of[source_domain])
    packet = Packet(src.ip or "", dst.ip or "", packet.protocol, packet.sport, packet.dport,
                    packet.icmp_type, packet.icmp_code, packet.ether_type)  # fmt: skip
    ingress = decide(domain_view(entries, src.host_id or ""), "ingress", src, packet)
    egress = decide(domain_view(entries, dst.host_id or ""), "egress", dst, packet)
    return Verdict(ingress.allowed and egress.allowed, ingress, egress)


def north_south_refusal(view: DomainView, endpoint: Endpoint, *, inbound: bool) -> str | None:
    """Why an endpoint cannot exchange with the outside in that direction (None: it can): it
    needs a floating IP or an advertised subnet, or — outbound only — a PAT subnet."""
    subnet = next((s for s in view.subnets if s.id == endpoint.subnet_id), None)
    if endpoint.floating_ip or (subnet is not None and subnet.advertise):
        return None
    if not inbound and subnet is not None and subnet.pat:
        return None
    need = (
        "a floating IP or an advertised subnet" if inbound else "a floating IP, PAT or an advertised subnet"
    )
    return f"no way {'in' if inbound else 'out'}: the endpoint has not {need}"


def explain_outside(
    endpoint: tuple[str, Endpoint],
    entries: Iterable[tuple[Key, Any]],
    packet: Packet,
    *,
    outside: str,
    inbound: bool,
) -> Verdict:
    """A new flow between an endpoint (domain ID, endpoint) and an address outside the overlay:
    the endpoint's side decides (ingress when it sends, egress when it receives, as its host
    judges), once the flow can cross at all (:func:`north_south_refusal`). The outside side's
    decision is "outside" (the routers are not Overcast's)."""
    domain_id, local = endpoint
    view = domain_view(list(entries), local.host_id or "")
    ip = local.ip or ""
    packet = Packet(outside if inbound else ip, ip if inbound else outside, packet.protocol, packet.sport,
                    packet.dport, packet.icmp_type, packet.icmp_code, packet.ether_type)  # fmt: skip
    beyond = Decision(True, "outside")
    refusal = north_south_refusal(view, local, inbound=inbound)
    judged = (
        Decision(False, refusal)
        if refusal
        else decide(view, "egress" if inbound else "ingress", local, packet)
    )
    ingress, egress = (beyond, judged) if inbound else (judged, beyond)
    return Verdict(judged.allowed, ingress, egress)
