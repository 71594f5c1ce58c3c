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

The values of the desired state (subnets, endpoints, rules, ...) are NamedTuples: immutable,
comparable, and three times cheaper to build than frozen dataclasses (an agent decodes tens of
thousands of them per snapshot).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import xxhash

ANY = "ANY"
#: Remote-side matches relative to the local endpoint itself (no set: resolved per endpoint).
RELATIVE = ("ENDPOINT_DOMAIN", "ENDPOINT_ZONE", "ENDPOINT_SUBNET")
_ENTRY_KINDS = ("ingressaclentrytemplate", "egressaclentrytemplate")
_BRACKETS = {"TOP_FIREWALL": 0, "TOP": 1, "MIDDLE_FIREWALL": 2, "NONE": 2, "BOTTOM": 3, "BOTTOM_FIREWALL": 4}


class Subnet(NamedTuple):
    id: str
    zone_id: str | None
    prefix: str  # CIDR
    gateway: str | None
    gateway_mac: str | None
    vni: int | None
    #: Endpoints without a floating IP reach outside addresses, translated to an address
    #: Overcast owns (VSD's PATEnabled: the subnet's, or its domain's when INHERITED).
    pat: bool = False
    #: Announced to the data-center routers as is (public addresses, no NAT).
    advertise: bool = False


class Endpoint(NamedTuple):
    """An interface bound to a vport: what the datapath attaches and the rules match."""

    vport_id: str
    mac: str
    ip: str | None
    subnet_id: str  # subnet or L2 domain
    zone_id: str | None
    host_id: str | None
    vtep: str | None  # the underlay address of its host
    floating_ip: str | None = None  # the floating IP assigned to its vport


class Rule(NamedTuple):
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
    logged: bool = False  # flowLoggingEnabled: the datapath logs the flows it decides


class Defaults(NamedTuple):
    allow_ip: bool
    allow_non_ip: bool
    log_denies: bool = False  # the domain's flowCollectionEnabled: log what the default drops


class DomainInfo(NamedTuple):
    id: str
    enterprise_id: str | None
    l2: bool  # an L2 domain: one segment, no routing


class RuleSet(NamedTuple):
    """One direction's compiled policy: ordered rules, then the defaults."""

    direction: str  # ingress | egress
    rules: tuple[Rule, ...]
    defaults: Defaults


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
        return self._sets_by_name.get(name, frozenset())

    @cached_property
    def _sets_by_name(self) -> dict[str, frozenset[str]]:
        # Built once per view: the oracle asks for a set per rule it tries (the compliance
        # evaluator asks thousands of times per view).
        return dict(self.sets)


@dataclass(frozen=True)
class HostView:
    host_id: str
    domains: tuple[DomainView, ...]

    def domain(self, domain_id: str) -> DomainView | None:
        return next((d for d in self.domains if d.id == domain_id), None)


@dataclass
class PolicyInput:
    """Directory state as plain data: objects by kind (their API JSON) and the member associations.

    Where an endpoint runs is directory state too: its container (or VM) names the host's ``vrs``
    object in ``VRSID`` once an agent has reported it up, and the ``vrs`` carries the host's name
    (the agent's host ID) and underlay ``address`` (its VTEP).
    """

    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    #: policy group ID -> member vport IDs; macro group ID -> member macro IDs
    members: dict[str, frozenset[str]] = field(default_factory=dict)

    def add(self, kind: str, obj: Mapping[str, Any]) -> None:
        self.objects[kind][obj["ID"]] = dict(obj)

    def of(self, kind: str) -> Iterable[dict[str, Any]]:
        return self.objects.get(kind, {}).values()

    def get(self, kind: str, object_id: str | None) -> dict[str, Any] | None:
        return self.objects.get(kind, {}).get(object_id or "")

    def hosts(self) -> dict[str, str]:
        """Host ID (the vrs name) -> underlay address, for every host the directory knows."""
        return {v["name"]: v.get("address") or "" for v in self.of("vrs") if v.get("name")}


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


def _policies(templates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    live = [t for t in templates if t.get("active") and t.get("policyState", "LIVE") == "LIVE"]
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


def _rule(entry: Mapping[str, Any]) -> Rule:
    network_type = entry.get("networkType") or ANY
    remote = network_type if network_type in RELATIVE else _set_for(network_type, entry.get("networkID"))
    ether = entry.get("etherType") or "*"
    return Rule(
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
        logged=bool(entry.get("flowLoggingEnabled")),
    )


def logs_default_denies(domain: Mapping[str, Any] | None) -> bool:
    """Whether a domain asks for its default denies to be logged (``flowCollectionEnabled``)."""
    return bool(domain) and (domain or {}).get("flowCollectionEnabled") == "ENABLED"


def rule_set(
    direction: str,
    templates: Iterable[dict[str, Any]],
    entries_of: Callable[[str], Iterable[dict[str, Any]]],
    *,
    log_denies: bool = False,
) -> RuleSet:
    """One direction's ordered rules and defaults, from a domain's templates of that direction
    (``log_denies``: :func:`logs_default_denies` of the domain)."""
    policies = _policies(templates)
    rules = [
        _rule(entry)
        for policy in policies
        for entry in sorted(entries_of(policy["ID"]), key=lambda e: (e.get("priority") or 0, e["ID"]))
    ]
    defaults = Defaults(
        allow_ip=any(p.get("defaultAllowIP") for p in policies),
        allow_non_ip=any(p.get("defaultAllowNonIP") for p in policies),
        log_denies=log_denies,
    )
    return RuleSet(direction, tuple(rules), defaults)


def referenced_sets(rule_sets: Iterable[RuleSet]) -> frozenset[str]:
    """The set names the rules use (relative keywords are resolved per endpoint, not sets)."""
    return frozenset(
        n for rs in rule_sets for r in rs.rules for n in (r.local, r.remote) if n and n not in RELATIVE
    )


def subnet_of(obj: Mapping[str, Any], domain: Mapping[str, Any] | None = None) -> Subnet:
    """A subnet (or an L2 domain, its own single segment) as the datapath needs it; ``domain``:
    the L3 domain it belongs to (its PATEnabled is the subnet's when the subnet inherits)."""
    pat = obj.get("PATEnabled")
    if pat in (None, "INHERITED"):
        pat = (domain or {}).get("PATEnabled")
    l3 = obj.get("parentType") == "zone"
    return Subnet(
        id=obj["ID"],
        zone_id=obj.get("parentID") if l3 else None,
        prefix=_prefix(obj) or "",
        gateway=obj.get("gateway"),
        gateway_mac=obj.get("gatewayMACAddress"),
        vni=obj.get("vnId"),
        pat=l3 and pat == "ENABLED",  # an L2 domain routes nothing
        advertise=l3 and bool(obj.get("advertise")),
    )


def domain_info(state: PolicyInput, domain_id: str) -> DomainInfo | None:
    l3 = state.get("domain", domain_id)
    obj = l3 or state.get("l2domain", domain_id)
    if obj is None:
        return None
    return DomainInfo(id=domain_id, enterprise_id=obj.get("parentID"), l2=l3 is None)


def endpoint_of(state: PolicyInput, interface: Mapping[str, Any]) -> tuple[str, Endpoint] | None:
    """(domain ID, endpoint) of an interface bound to a host, or None while it is not running."""
    vport_id = interface.get("VPortID")
    network_id = interface.get("attachedNetworkID")
    domain_id = interface.get("domainID")
    if not vport_id or not network_id or not domain_id:
        return None
    owner = state.get("container", interface.get("parentID")) or state.get("vm", interface.get("parentID"))
    vrs = state.get("vrs", (owner or {}).get("VRSID"))
    if vrs is None or not vrs.get("name"):
        return None
    vport = state.get("vport", vport_id) or {}
    floating = state.get("floatingip", vport.get("associatedFloatingIPID"))
    endpoint = Endpoint(
        vport_id=vport_id,
        mac=str(interface.get("MAC", "")).lower(),
        ip=interface.get("IPAddress"),
        subnet_id=network_id,
        zone_id=interface.get("zoneID"),
        host_id=vrs["name"],
        vtep=vrs.get("address"),
        floating_ip=floating.get("address") if floating else None,
    )
    return domain_id, endpoint


def pg_set(group_members: Iterable[str], endpoints: Mapping[str, Endpoint]) -> frozenset[str]:
    """A policy group's addresses: its members' endpoints in the group's domain."""
    return frozenset(f"{e.ip}/32" for v in group_members if (e := endpoints.get(v)) is not None and e.ip)


def prefix_set(state: PolicyInput, name: str, subnets: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Members of a zone, subnet, macro or macro-group set (``subnets``: the domain's segments)."""
    kind, _, object_id = name.partition(":")
    if kind == "zone":
        return frozenset(p for s in subnets if s.get("parentID") == object_id if (p := _prefix(s)))
    if kind == "subnet":
        return frozenset(p for s in subnets if s["ID"] == object_id if (p := _prefix(s)))
    if kind == "macro":
        macro_ids: Iterable[str] = (object_id,)
    elif kind == "macrogroup":
        macro_ids = state.members.get(object_id, frozenset())
    else:
        raise ValueError(f"not a prefix set: {name}")
    return frozenset(p for m in macro_ids if (p := _prefix(state.get("enterprisenetwork", m) or {})))


# --- the desired state as entries ------------------------------------------------------------------

#: An entry's key: (family, domain ID, identity...). Families: domain, subnet, endpoint, member, rules.
#: ``member`` entries hold one bucket of a set: its CIDRs whose hash falls in that bucket. A
#: membership change resends one bucket (about 1/SET_BUCKETS of the set), and a host holds
#: at most SET_BUCKETS entries per set instead of one per address.
Key = tuple[str, ...]


def subnet_key(domain_id: str, subnet: Subnet) -> Key:
    return ("subnet", domain_id, subnet.id)


def endpoint_key(domain_id: str, vport_id: str) -> Key:
    return ("endpoint", domain_id, vport_id)


SET_BUCKETS = 16


def set_bucket(cidr: str) -> str:
    """The bucket of a set that holds ``cidr`` (stable across processes and runs)."""
    return f"{xxhash.xxh3_64_intdigest(cidr.encode()) % SET_BUCKETS:02d}"


def member_key(domain_id: str, set_name: str, bucket: str) -> Key:
    return ("member", domain_id, set_name, bucket)


def set_entries(domain_id: str, set_name: str, cidrs: Iterable[str]) -> dict[Key, frozenset[str]]:
    """A set's member entries: its CIDRs grouped by bucket (empty buckets have no entry)."""
    buckets: dict[str, set[str]] = defaultdict(set)
    for cidr in cidrs:
        buckets[set_bucket(cidr)].add(cidr)
    return {member_key(domain_id, set_name, b): frozenset(c) for b, c in buckets.items()}


def rules_key(domain_id: str, direction: str) -> Key:
    return ("rules", domain_id, direction)


def compile_domains(state: PolicyInput) -> dict[str, dict[Key, Any]]:
    """The full recompute: every domain's entries (host-independent). The reference the
    incremental engine must equal, written as plainly as possible."""
    out: dict[str, dict[Key, Any]] = {}
    endpoints: dict[str, dict[str, Endpoint]] = defaultdict(dict)
    by_vport: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kind in ("containerinterface", "vminterface"):
        for interface in state.of(kind):
            if interface.get("VPortID"):
                by_vport[interface["VPortID"]].append(interface)
    for vport_id, interfaces in by_vport.items():
        found = endpoint_of(state, min(interfaces, key=lambda i: i["ID"]))
        if found is not None:
            endpoints[found[0]][vport_id] = found[1]
    # Children by parent, indexed once: looking each domain's zones, subnets, templates and
    # each template's entries up by scanning every object was quadratic (a domain of 100
    # applications has 400 templates and their entries).
    children: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for kind in ("zone", "subnet", "ingressacltemplate", "egressacltemplate", *_ENTRY_KINDS):
        for obj in state.of(kind):
            children[(kind, obj.get("parentID") or "")].append(obj)
    for kind in ("domain", "l2domain"):
        for domain in state.of(kind):
            domain_id = domain["ID"]
            info = domain_info(state, domain_id)
            assert info is not None
            entries: dict[Key, Any] = {("domain", domain_id): info}
            if kind == "l2domain":
                segments = [domain]
            else:
                zones = [z["ID"] for z in children[("zone", domain_id)]]
                segments = [s for zone in zones for s in children[("subnet", zone)]]
            for segment in segments:
                subnet = subnet_of(segment, domain if kind == "domain" else None)
                entries[subnet_key(domain_id, subnet)] = subnet
            rule_sets = []
            for direction in ("ingress", "egress"):
                entry_kind = f"{direction}aclentrytemplate"

                def entries_of(template_id: str, kind: str = entry_kind) -> list[dict[str, Any]]:
                    return children[(kind, template_id)]

                rs = rule_set(
                    direction,
                    children[(f"{direction}acltemplate", domain_id)],
                    entries_of,
                    log_denies=logs_default_denies(domain if kind == "domain" else None),
                )
                entries[rules_key(domain_id, direction)] = rs
                rule_sets.append(rs)
            local_endpoints = endpoints.get(domain_id, {})
            for vport_id, endpoint in local_endpoints.items():
                entries[endpoint_key(domain_id, vport_id)] = endpoint
            for name in referenced_sets(rule_sets):
                if name.startswith("pg:"):
                    group = state.get("policygroup", name[3:])
                    in_domain = group is not None and group.get("parentID") == domain_id
                    cidrs = (
                        pg_set(state.members.get(name[3:], ()), local_endpoints) if in_domain else frozenset()
                    )
                else:
                    cidrs = prefix_set(state, name, segments)
                entries.update(set_entries(domain_id, name, cidrs))
            out[domain_id] = entries
    return out


def hosts_of(entries: Mapping[Key, Any]) -> frozenset[str]:
    """The hosts that must hold a domain: those running one of its endpoints."""
    return frozenset(v.host_id for k, v in entries.items() if k[0] == "endpoint" and v.host_id)


def compile_host_entries(state: PolicyInput) -> dict[str, dict[Key, Any]]:
    """The full compile, per host: every entry a host must hold (hosts holding nothing are
    left out). What a snapshot carries, and what tests compare agents with."""
    out: dict[str, dict[Key, Any]] = {}
    for entries in compile_domains(state).values():
        for host_id in hosts_of(entries):
            out.setdefault(host_id, {}).update(entries)
    return out


def domain_view(entries: Iterable[tuple[Key, Any]], host_id: str) -> DomainView:
    """One domain's entries as seen from one host (local vs remote endpoints, sets by name)."""
    info: DomainInfo | None = None
    subnets: list[Subnet] = []
    endpoints: list[Endpoint] = []
    members: dict[str, set[str]] = defaultdict(set)
    rule_sets: dict[str, RuleSet] = {}
    for key, value in entries:
        family = key[0]
        if family == "domain":
            info = value
        elif family == "subnet":
            subnets.append(value)
        elif family == "endpoint":
            endpoints.append(value)
        elif family == "member":
            members[key[2]].update(value)
        elif family == "rules":
            rule_sets[key[2]] = value
    if info is None:
        raise ValueError("a domain's entries must include its domain entry")
    empty = RuleSet("", (), Defaults(False, False))
    ingress, egress = rule_sets.get("ingress", empty), rule_sets.get("egress", empty)
    names = referenced_sets((ingress, egress)) | set(members)
    endpoints.sort(key=lambda e: e.vport_id)
    return DomainView(
        id=info.id,
        enterprise_id=info.enterprise_id,
        subnets=tuple(sorted(subnets, key=lambda s: s.id)),
        local=tuple(e for e in endpoints if e.host_id == host_id),
        remote=tuple(e for e in endpoints if e.host_id != host_id),
        sets=tuple((n, frozenset(members.get(n, ()))) for n in sorted(names)),
        ingress=ingress.rules,
        egress=egress.rules,
        ingress_defaults=ingress.defaults,
        egress_defaults=egress.defaults,
    )


def host_views(domains: Mapping[str, Mapping[Key, Any]], hosts: Iterable[str]) -> dict[str, HostView]:
    """Every host's view: only the domains where the host runs an endpoint."""
    views: dict[str, list[DomainView]] = defaultdict(list)
    for domain_id in sorted(domains):
        entries = domains[domain_id]
        for host_id in sorted(hosts_of(entries)):
            views[host_id].append(domain_view(entries.items(), host_id))
    return {h: HostView(h, tuple(views.get(h, ()))) for h in sorted(set(hosts) | set(views))}


def compile_hosts(state: PolicyInput) -> dict[str, HostView]:
    """The full compile, as views: what every known host must hold."""
    return host_views(compile_domains(state), state.hosts())


def views_of(entries: dict[Key, Any], host_id: str) -> list[DomainView]:
    """Entries grouped by domain, as seen from one host."""
    by_domain: dict[str, list[tuple[Key, Any]]] = {}
    for key, value in entries.items():
        by_domain.setdefault(key[1], []).append((key, value))
    return [domain_view(items, host_id) for _, items in sorted(by_domain.items())]
