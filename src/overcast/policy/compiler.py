"""The policy compiler: directory state in, what each host must do out. Pure: no I/O, no clock.

Input is the directory's own JSON objects (what the API returns and the change log carries),
plus the associations and where each vport runs. Output, per host, for every domain with a
local endpoint: the domain's subnets, its local and remote endpoints, the address sets the
rules use, and the ordered ingress and egress rules with their defaults.

Semantics (``shared/reference/vsd-api.md`` §9.9–9.10): *ingress* is traffic from the endpoint
into the network, enforced at the source host; *egress* is traffic towards the endpoint,
enforced at the destination host. ``location*`` is the local side, ``network*`` the remote side.
Only ``active`` LIVE policies count, ordered TOP, then NONE, then BOTTOM, each bracket by policy
priority; entries by priority; the first match decides; after the last entry the defaults
(``defaultAllowIP`` / ``defaultAllowNonIP`` of any active policy of that direction) decide.

Policy groups compile to **sets** of addresses, never to per-pair rules: a rule names sets, so
adding an endpoint changes set contents, not rules.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANY = "ANY"
#: Remote-side matches relative to the local endpoint itself (no set: resolved per endpoint).
RELATIVE = ("ENDPOINT_DOMAIN", "ENDPOINT_ZONE", "ENDPOINT_SUBNET")
_BRACKETS = {"TOP_FIREWALL": 0, "TOP": 1, "MIDDLE_FIREWALL": 2, "NONE": 2, "BOTTOM": 3, "BOTTOM_FIREWALL": 4}


@dataclass(frozen=True)
class Subnet:
    id: str
    zone_id: str | None
    prefix: str  # CIDR
    gateway: str | None
    gateway_mac: str | None
    vni: int | None


@dataclass(frozen=True)
class Endpoint:
    """An interface bound to a vport: what the datapath attaches and the rules match."""

    vport_id: str
    mac: str
    ip: str | None
    subnet_id: str  # subnet or L2 domain
    zone_id: str | None
    host_id: str | None
    vtep: str | None  # the underlay address of its host


@dataclass(frozen=True)
class Rule:
    entry_id: str
    action: str  # FORWARD | DROP
    local: str | None  # set name, None = every endpoint the policy applies to
    remote: str | None  # set name, a RELATIVE keyword, or None = anywhere
    protocol: int | None  # None = any
    source_ports: tuple[int, int] | None
    destination_ports: tuple[int, int] | None
    icmp_type: int | None
    icmp_code: int | None
    ether_type: int | None  # None = any
    stateful: bool


@dataclass(frozen=True)
class Defaults:
    allow_ip: bool
    allow_non_ip: bool


@dataclass(frozen=True)
class DomainView:
    id: str
    enterprise_id: str | None
    subnets: tuple[Subnet, ...]
    local: tuple[Endpoint, ...]
    remote: tuple[Endpoint, ...]
    sets: tuple[tuple[str, frozenset[str]], ...]  # name -> CIDRs, sorted by name
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    ingress_defaults: Defaults
    egress_defaults: Defaults

    def set(self, name: str) -> frozenset[str]:
        return dict(self.sets).get(name, frozenset())


@dataclass(frozen=True)
class HostView:
    host_id: str
    domains: tuple[DomainView, ...]

    def domain(self, domain_id: str) -> DomainView | None:
        return next((d for d in self.domains if d.id == domain_id), None)


@dataclass
class PolicyInput:
    """Directory state as plain data: objects by kind (their API JSON), associations, placement."""

    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    #: policy group ID -> member vport IDs; macro group ID -> member macro IDs
    members: dict[str, frozenset[str]] = field(default_factory=dict)
    #: vport ID -> host ID, and host ID -> underlay address
    placement: dict[str, str] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, obj: Mapping[str, Any]) -> None:
        self.objects[kind][obj["ID"]] = dict(obj)

    def of(self, kind: str) -> Iterable[dict[str, Any]]:
        return self.objects.get(kind, {}).values()

    def get(self, kind: str, object_id: str | None) -> dict[str, Any] | None:
        return self.objects.get(kind, {}).get(object_id or "")


def _prefix(obj: Mapping[str, Any]) -> str | None:
    if not obj.get("address") or not obj.get("netmask"):
        return None
    return str(ipaddress.IPv4Network(f"{obj['address']}/{obj['netmask']}", strict=False))


def _ports(text: str | None) -> tuple[int, int] | None:
    if not text or text == "*":
        return None
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def _number(text: str | None) -> int | None:
    if text is None or text in ("*", ANY, ""):
        return None
    return int(text)


def _domain_of_subnet(state: PolicyInput, subnet_id: str) -> str | None:
    subnet = state.get("subnet", subnet_id)
    if subnet is not None:
        zone = state.get("zone", subnet.get("parentID"))
        return zone.get("parentID") if zone else None
    return subnet_id if state.get("l2domain", subnet_id) else None


def endpoints_by_domain(state: PolicyInput) -> dict[str, list[Endpoint]]:
    found: dict[str, list[Endpoint]] = defaultdict(list)
    for kind in ("containerinterface", "vminterface"):
        for interface in state.of(kind):
            vport_id = interface.get("VPortID")
            network_id = interface.get("attachedNetworkID")
            if not vport_id or not network_id:
                continue
            domain_id = interface.get("domainID") or _domain_of_subnet(state, network_id)
            host = state.placement.get(vport_id)
            found[domain_id or ""].append(
                Endpoint(
                    vport_id=vport_id,
                    mac=str(interface.get("MAC", "")).lower(),
                    ip=interface.get("IPAddress"),
                    subnet_id=network_id,
                    zone_id=interface.get("zoneID"),
                    host_id=host,
                    vtep=state.hosts.get(host or ""),
                )
            )
    return found


def _policies(state: PolicyInput, domain_id: str, kind: str) -> list[dict[str, Any]]:
    live = [
        p
        for p in state.of(kind)
        if p.get("parentID") == domain_id and p.get("active") and p.get("policyState", "LIVE") == "LIVE"
    ]
    return sorted(
        live,
        key=lambda p: (_BRACKETS.get(p.get("priorityType") or "NONE", 2), p.get("priority") or 0, p["ID"]),
    )


def _set_for(kind: str, object_id: str | None) -> str | None:
    if kind == ANY or object_id is None:
        return None
    prefix = {
        "POLICYGROUP": "pg",
        "ZONE": "zone",
        "SUBNET": "subnet",
        "ENTERPRISE_NETWORK": "macro",
        "NETWORK_MACRO_GROUP": "macrogroup",
    }[kind]
    return f"{prefix}:{object_id}"


def _compile_rules(state: PolicyInput, domain_id: str, direction: str) -> tuple[tuple[Rule, ...], Defaults]:
    template_kind = f"{direction}acltemplate"
    entry_kind = f"{direction}aclentrytemplate"
    policies = _policies(state, domain_id, template_kind)
    rules: list[Rule] = []
    for policy in policies:
        entries = sorted(
            (e for e in state.of(entry_kind) if e.get("parentID") == policy["ID"]),
            key=lambda e: (e.get("priority") or 0, e["ID"]),
        )
        for entry in entries:
            network_type = entry.get("networkType") or ANY
            remote = (
                network_type if network_type in RELATIVE else _set_for(network_type, entry.get("networkID"))
            )
            ether = entry.get("etherType") or "*"
            rules.append(
                Rule(
                    entry_id=entry["ID"],
                    action=entry.get("action") or "FORWARD",
                    local=_set_for(entry.get("locationType") or ANY, entry.get("locationID")),
                    remote=remote,
                    protocol=_number(entry.get("protocol")),
                    source_ports=_ports(entry.get("sourcePort")),
                    destination_ports=_ports(entry.get("destinationPort")),
                    icmp_type=_number(entry.get("ICMPType")),
                    icmp_code=_number(entry.get("ICMPCode")),
                    ether_type=None if ether == "*" else int(ether, 16),
                    stateful=bool(entry.get("stateful")),
                )
            )
    defaults = Defaults(
        allow_ip=any(p.get("defaultAllowIP") for p in policies),
        allow_non_ip=any(p.get("defaultAllowNonIP") for p in policies),
    )
    return tuple(rules), defaults


def _sets(
    state: PolicyInput, names: set[str], endpoints: list[Endpoint]
) -> tuple[tuple[str, frozenset[str]], ...]:
    by_vport = {e.vport_id: e for e in endpoints}
    subnets = {**{s["ID"]: s for s in state.of("subnet")}, **{s["ID"]: s for s in state.of("l2domain")}}
    out = []
    for name in sorted(names):
        kind, _, object_id = name.partition(":")
        members: set[str] = set()
        if kind == "pg":
            for vport_id in state.members.get(object_id, frozenset()):
                endpoint = by_vport.get(vport_id)
                if endpoint is not None and endpoint.ip:
                    members.add(f"{endpoint.ip}/32")
        elif kind == "zone":
            members = {p for s in subnets.values() if s.get("parentID") == object_id if (p := _prefix(s))}
        elif kind == "subnet":
            prefix = _prefix(subnets.get(object_id, {}))
            members = {prefix} if prefix else set()
        elif kind == "macro":
            prefix = _prefix(state.get("enterprisenetwork", object_id) or {})
            members = {prefix} if prefix else set()
        elif kind == "macrogroup":
            for macro_id in state.members.get(object_id, frozenset()):
                prefix = _prefix(state.get("enterprisenetwork", macro_id) or {})
                if prefix:
                    members.add(prefix)
        out.append((name, frozenset(members)))
    return tuple(out)


def compile_domain(state: PolicyInput, domain_id: str, host_id: str, endpoints: list[Endpoint]) -> DomainView:
    """The view of one domain from one host (which has at least one endpoint in it)."""
    domain = state.get("domain", domain_id) or state.get("l2domain", domain_id) or {}
    subnet_objs = [
        s
        for s in state.of("subnet")
        if (state.get("zone", s.get("parentID")) or {}).get("parentID") == domain_id
    ]
    if state.get("l2domain", domain_id):
        subnet_objs = [domain]
    subnets = tuple(
        sorted(
            (
                Subnet(
                    id=s["ID"],
                    zone_id=s.get("parentID") if s.get("parentType") == "zone" else None,
                    prefix=_prefix(s) or "",
                    gateway=s.get("gateway"),
                    gateway_mac=s.get("gatewayMACAddress"),
                    vni=s.get("vnId"),
                )
                for s in subnet_objs
            ),
            key=lambda s: s.id,
        )
    )
    ingress, ingress_defaults = _compile_rules(state, domain_id, "ingress")
    egress, egress_defaults = _compile_rules(state, domain_id, "egress")
    names = {n for r in (*ingress, *egress) for n in (r.local, r.remote) if n and n not in RELATIVE}
    ordered = sorted(endpoints, key=lambda e: e.vport_id)
    return DomainView(
        id=domain_id,
        enterprise_id=domain.get("parentID"),
        subnets=subnets,
        local=tuple(e for e in ordered if e.host_id == host_id),
        remote=tuple(e for e in ordered if e.host_id != host_id and e.host_id is not None),
        sets=_sets(state, names, endpoints),
        ingress=ingress,
        egress=egress,
        ingress_defaults=ingress_defaults,
        egress_defaults=egress_defaults,
    )


def compile_hosts(state: PolicyInput) -> dict[str, HostView]:
    """Every host's view: only domains where the host has an endpoint."""
    per_domain = endpoints_by_domain(state)
    views: dict[str, list[DomainView]] = defaultdict(list)
    for domain_id, endpoints in sorted(per_domain.items()):
        for host_id in sorted({e.host_id for e in endpoints if e.host_id}):
            views[host_id].append(compile_domain(state, domain_id, host_id, endpoints))
    hosts = set(state.hosts) | set(views)
    return {h: HostView(h, tuple(views.get(h, ()))) for h in sorted(hosts)}
