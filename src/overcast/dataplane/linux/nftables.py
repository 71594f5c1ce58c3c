"""One domain's distributed firewall on one host, as an nftables ruleset (pure).

The ruleset lives in the domain's namespace, in table ``inet overcast`` (the ownership marker:
the agent never touches another table). The ``inet`` family with br_netfilter on is the only
stateful choice on a kernel without ``nf_conntrack_bridge`` (shared/reference/datapath.md §4):
bridged frames (local and over VXLAN) and routed packets all pass its ``forward`` hook.

Evaluation, as compiled:

* ``ct state established,related`` is accepted first — except connections a stateless entry
  admitted (their conntrack mark is 1): their replies are judged by the rules again;
* a packet *from* a local endpoint jumps to ``ingress`` (its ordered rules, then the default):
  a FORWARD returns (and the destination's egress still applies), a DROP drops;
* a packet *to* a local endpoint jumps to ``egress``; a FORWARD accepts;
* a packet from a local endpoint to a remote one, having passed ingress, is accepted (the
  destination host judges its egress);
* anything else (transit, IPv6 for now) is dropped: fail closed, and an endpoint this host was
  not told about is in no set.

Policy groups and the other named sets become nftables sets, so membership changes are set
element changes; rules refer to sets, never to endpoint pairs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import xxhash

from ...policy.compiler import RELATIVE, Defaults, DomainView, Rule
from ...policy.oracle import covers
from .nat import UPLINK, needs_uplink, uplink_sets
from .nflog import GROUP as NFLOG_GROUP

TABLE = "overcast"
STATELESS_MARK = "0x00000001"
_IPV4 = 0x0800
_PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}


def short_hash(object_id: str) -> str:
    """12 hex digits naming kernel objects after a directory object (IDs are too long for
    interface names, and their leading digits are a timestamp two objects may share)."""
    return xxhash.xxh3_64_hexdigest(object_id.encode())[:12]


def set_name(name: str) -> str:
    """nftables name of a directory set (``pg:<uuid>`` -> ``pg_<hash>``): short and stable."""
    kind, _, object_id = name.partition(":")
    return f"{kind}_{short_hash(object_id)}"


#: Per-endpoint drop counting: each set holds this host's endpoints (as ``local``) and counts,
#: per element, the packets a rule looked it up for (nftables' per-element counters, measured: a
#: lookup-only rule counts): those the policy dropped — its ingress entries for what the
#: endpoint sent, its egress entries for what was sent to it, defaults included. Only the drop
#: path looks them up, so allowed traffic pays nothing. (What an endpoint sent and received is
#: its veth's own counters: see ``driver.py``.)
ENDPOINT_SETS = ("dropped_sent", "dropped_received")


def set_contents(view: DomainView) -> dict[str, frozenset[str]]:
    """Every set the domain's table holds, by nftables name -> the CIDRs it must match
    (``local``: this host's endpoints of the domain; the :data:`ENDPOINT_SETS` the same)."""
    local = frozenset(f"{e.ip}/32" for e in view.local if e.ip)
    contents = {"local": local}
    contents.update(dict.fromkeys(ENDPOINT_SETS, local))
    for name, cidrs in view.sets:
        contents[set_name(name)] = cidrs
    if needs_uplink(view):
        contents.update(uplink_sets(view))
    return contents


def _hosts_only(cidrs: Collection[str]) -> bool:
    """Only host addresses: no two can overlap, so nothing needs merging (the common case —
    policy groups — and the fast one)."""
    return all(c.endswith("/32") for c in cidrs)


def elements(cidrs: Collection[str]) -> tuple[str, ...]:
    """A set's elements as nftables takes them: overlapping and adjacent prefixes merged (an
    interval set refuses overlaps; membership is unchanged), host prefixes as addresses."""
    if _hosts_only(cidrs):
        return tuple(c[:-3] for c in cidrs)
    networks = ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in cidrs)
    return tuple(str(n).removesuffix("/32") for n in networks)


def revoked(before: Collection[str], after: Collection[str]) -> list[ipaddress.IPv4Network]:
    """The address ranges a set matched before and no longer does (flows of these are cut)."""
    if _hosts_only(before) and _hosts_only(after):
        return [ipaddress.IPv4Network(c) for c in set(before) - set(after)]
    gone: list[ipaddress.IPv4Network] = []
    remaining = list(ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in after))
    for network in ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in before):
        parts = [network]
        for keep in remaining:
            parts = [rest for part in parts for rest in _exclude(part, keep)]
        gone += parts
    return gone


def _exclude(network: ipaddress.IPv4Network, keep: ipaddress.IPv4Network) -> list[ipaddress.IPv4Network]:
    if not network.overlaps(keep):
        return [network]
    if network.subnet_of(keep):
        return []
    return list(network.address_exclude(keep))


def element_changes(before: dict[str, frozenset[str]], after: dict[str, frozenset[str]]) -> str:
    """nft commands turning the sets' contents ``before`` into ``after`` (same set names), as one
    transaction: deletions first, so a merged prefix can be replaced by its parts."""
    deletes, adds = [], []
    for name, cidrs in after.items():
        previous = before.get(name, frozenset())
        if _hosts_only(previous) and _hosts_only(cidrs):
            old, new = {c[:-3] for c in previous - cidrs}, {c[:-3] for c in cidrs - previous}
        else:
            old, new = set(elements(previous)), set(elements(cidrs))
        if old - new:
            deletes.append(f"delete element inet {TABLE} {name} {{ {', '.join(sorted(old - new))} }}")
        if new - old:
            adds.append(f"add element inet {TABLE} {name} {{ {', '.join(sorted(new - old))} }}")
    return "\n".join(deletes + adds) + ("\n" if deletes or adds else "")


def _address_order(element: str) -> tuple[int, ...]:
    return tuple(int(part) for part in element.split("/")[0].split("."))


def _set_block(
    name: str,
    cidrs: Collection[str],
    *,
    with_elements: bool,
    counted: Mapping[CounterKey, tuple[int, int]] | None = None,
) -> str:
    """A set of addresses: a hash set while it holds host addresses only (an element update
    costs ~0.1 ms whatever its size), an interval set once it holds prefixes (whose updates
    cost O(size): 3 ms at 1,000 elements). The kind is part of the table's shape. An
    :data:`ENDPOINT_SETS` set counts per element, its elements starting from ``counted``."""
    flags = "" if _hosts_only(cidrs) else " flags interval;"
    if name in ENDPOINT_SETS:
        flags += " counter;"
    items = ""
    if with_elements:
        ordered = sorted(elements(cidrs), key=_address_order)
        if name in ENDPOINT_SETS and counted:
            ordered = [_seeded(address, counted.get((name, address, 0))) for address in ordered]
        items = ", ".join(ordered)
    body = f" elements = {{ {items} }}" if items else ""
    return f"  set {name} {{ type ipv4_addr;{flags}{body} }}"


def _seeded(address: str, count: tuple[int, int] | None) -> str:
    return address if count is None else f"{address} counter packets {count[0]} bytes {count[1]}"


def _ports(bounds: tuple[int, int] | None) -> str:
    if bounds is None:
        return ""
    return str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]}-{bounds[1]}"


def _match(rule: Rule, direction: str, view: DomainView) -> list[str]:
    """nft match expressions, or several alternatives for relative (per zone/subnet) rules."""
    local_addr, remote_addr = ("saddr", "daddr") if direction == "ingress" else ("daddr", "saddr")
    base = ["meta nfproto ipv4"]
    if rule.local is not None:
        base.append(f"ip {local_addr} @{set_name(rule.local)}")
    if rule.protocol is not None:
        base.append(f"meta l4proto {rule.protocol}")
        if rule.protocol in (6, 17):
            sport, dport = _ports(rule.source_ports), _ports(rule.destination_ports)
            if sport:
                base.append(f"th sport {sport}")
            if dport:
                base.append(f"th dport {dport}")
        if rule.protocol == 1:
            if rule.icmp_type is not None:
                base.append(f"icmp type {rule.icmp_type}")
            if rule.icmp_code is not None:
                base.append(f"icmp code {rule.icmp_code}")
    if rule.remote is None:
        return [" ".join(base)]
    if rule.remote not in RELATIVE:
        return [" ".join([*base, f"ip {remote_addr} @{set_name(rule.remote)}"])]
    # Relative to the local endpoint: its domain, zone or subnet (one alternative per group).
    groups: dict[str, list[str]] = {}
    for subnet in view.subnets:
        if not subnet.prefix:
            continue
        if rule.remote == "ENDPOINT_DOMAIN":
            group = "domain"
        elif rule.remote == "ENDPOINT_ZONE":
            group = subnet.zone_id or subnet.id
        else:
            group = subnet.id
        groups.setdefault(group, []).append(subnet.prefix)
    out = []
    for prefixes in groups.values():
        anonymous = "{ " + ", ".join(sorted(prefixes)) + " }"
        out.append(" ".join([*base, f"ip {local_addr} {anonymous}", f"ip {remote_addr} {anonymous}"]))
    return out


#: A rule's counter: (chain, the entry it compiles or "default", which of the entry's rules);
#: an endpoint's: (one of :data:`ENDPOINT_SETS`, its address, 0).
CounterKey = tuple[str, str, int]
_COUNTED = re.compile(r'counter packets (\d+) bytes (\d+) .*comment "([^"]+)"')
_ELEMENT_COUNTED = re.compile(r"([0-9.]+) counter packets (\d+) bytes (\d+)")


def _counter(key: CounterKey, counters: Mapping[CounterKey, tuple[int, int]] | None) -> str:
    """Every entry's rule and every default count packets and bytes; a reloaded table starts
    its counters where the replaced one left them (so counters survive policy updates that
    keep the entry)."""
    if counters is None or key not in counters:
        return "counter"
    packets, octets = counters[key]
    return f"counter packets {packets} bytes {octets}"


def parse_counters(listing: str, chain: str) -> dict[CounterKey, tuple[int, int]]:
    """The counters of a chain as ``nft list chain`` prints them (pure)."""
    out: dict[CounterKey, tuple[int, int]] = {}
    seen: dict[str, int] = {}
    for found in _COUNTED.finditer(listing):
        comment = found[3]
        nth = seen.get(comment, 0)
        seen[comment] = nth + 1
        out[(chain, comment, nth)] = (int(found[1]), int(found[2]))
    return out


def parse_element_counters(listing: str, set_name_: str) -> dict[CounterKey, tuple[int, int]]:
    """The per-element counters of a set as ``nft list set`` prints them (pure)."""
    found = _ELEMENT_COUNTED.finditer(listing)
    return {(set_name_, f[1], 0): (int(f[2]), int(f[3])) for f in found}


def summarise_counters(
    counters: Mapping[CounterKey, tuple[int, int]],
    view: DomainView,
    interfaces: Mapping[str, tuple[int, int, int, int]] | None = None,
) -> dict[str, Any]:
    """What a domain counted, as :meth:`Dataplane.counters` reports it: per direction each
    entry's rules summed (and "default"), and per local endpoint (by vport) what it ``sent``
    and ``received`` (``interfaces``: vport -> its veth's rx packets, rx bytes, tx packets, tx
    bytes, as the host side sees them) and its :data:`ENDPOINT_SETS` counts, each
    ``[packets, bytes]`` (pure)."""
    per_direction: dict[str, dict[str, list[int]]] = {"ingress": {}, "egress": {}}
    by_address = {e.ip: e.vport_id for e in view.local if e.ip}
    endpoints: dict[str, dict[str, list[int]]] = {}
    for vport_id, (rx_packets, rx_bytes, tx_packets, tx_bytes) in (interfaces or {}).items():
        endpoints[vport_id] = {"sent": [rx_packets, rx_bytes], "received": [tx_packets, tx_bytes]}
    for (where, name, _nth), (packets, octets) in counters.items():
        if where in per_direction:
            total = per_direction[where].setdefault(name, [0, 0])
            total[0] += packets
            total[1] += octets
        elif where in ENDPOINT_SETS and name in by_address:
            endpoints.setdefault(by_address[name], {})[where] = [packets, octets]
    return {**per_direction, "endpoints": endpoints}


#: Packets each logging rule copies to the agent per second (and the burst): a port scan costs
#: the agent at most this per logged rule; the rule's counter still counts every packet.
LOG_RATE, LOG_BURST = 50, 50


def _log(direction: str, allowed: bool, entry_id: str) -> str:
    """A logging rule's statements: rate-limited, to NFLOG with the deciding entry in the
    prefix (:func:`overcast.agent.flows.log_prefix` reads it back). Its own rule, before the
    deciding one: ``limit`` is a match, which must not keep the verdict from applying."""
    prefix = f"ov|{direction[0].upper()}|{'A' if allowed else 'D'}|{entry_id}"
    return f'limit rate {LOG_RATE}/second burst {LOG_BURST} packets log prefix "{prefix}" group {NFLOG_GROUP}'


def _chain(
    direction: str,
    rules: tuple[Rule, ...],
    defaults: Defaults,
    view: DomainView,
    counters: Mapping[CounterKey, tuple[int, int]] | None = None,
) -> list[str]:
    allowed = "return" if direction == "ingress" else "accept"
    denied = "jump deny_sent" if direction == "ingress" else "jump deny_received"
    lines = [f"  chain {direction} {{"]
    seen: dict[str, int] = {}
    for rule in rules:
        if rule.ether_type is not None and rule.ether_type != _IPV4:
            continue  # not IPv4: handled (or not) outside the inet table
        if rule.action == "FORWARD":
            verdict = allowed if rule.stateful else f"ct mark set {STATELESS_MARK} {allowed}"
        else:
            verdict = denied
        for match in _match(rule, direction, view):
            if rule.logged:
                lines.append(f"    {match} {_log(direction, rule.action == 'FORWARD', rule.entry_id)}")
            nth = seen.get(rule.entry_id, 0)
            seen[rule.entry_id] = nth + 1
            counter = _counter((direction, rule.entry_id, nth), counters)
            lines.append(f'    {match} {counter} {verdict} comment "{rule.entry_id}"')
    counter = _counter((direction, "default", 0), counters)
    if defaults.log_denies and not defaults.allow_ip:
        lines.append(f"    meta nfproto ipv4 {_log(direction, False, 'default')}")
    lines.append(f'    {counter} {allowed if defaults.allow_ip else denied} comment "default"')
    lines.append("  }")
    return lines


def ruleset(
    view: DomainView,
    contents: dict[str, frozenset[str]] | None = None,
    *,
    with_elements: bool = True,
    counters: Mapping[CounterKey, tuple[int, int]] | None = None,
) -> str:
    """The whole table for one domain on this host, replacing any previous one atomically
    (``nft -f`` runs a file as one transaction). Without elements it is the table's *shape*,
    which decides whether a change is a reload or only set elements."""
    contents = set_contents(view) if contents is None else contents
    lines = [f"table inet {TABLE} {{}}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]
    lines.append(_set_block("local", contents.get("local", ()), with_elements=with_elements))
    for name in ENDPOINT_SETS:
        lines.append(_set_block(name, contents.get(name, ()), with_elements=with_elements, counted=counters))
    for name, _ in view.sets:
        cidrs = contents.get(set_name(name), ())
        lines.append(_set_block(set_name(name), cidrs, with_elements=with_elements))
    uplink = "outside" in contents
    for name in ("outside", "inbound") if uplink else ():
        lines.append(_set_block(name, contents[name], with_elements=with_elements))
    lines += [
        "  chain forward {",
        "    type filter hook forward priority filter; policy drop;",
        f"    ct state established,related ct mark != {STATELESS_MARK} accept",
        "    ct state invalid drop",
    ]
    if uplink:  # north-south: only what may leave or arrive by the uplink (see .nat)
        lines += [
            f'    oifname "{UPLINK}" ip saddr != @outside drop',
            f'    iifname "{UPLINK}" ip daddr != @inbound drop',
        ]
    lines += [
        "    meta nfproto ipv4 ip saddr @local jump ingress",
        "    meta nfproto ipv4 ip daddr @local jump egress",
        "    meta nfproto ipv4 ip saddr @local accept",
        "  }",
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        "    ct state established,related accept",
        '    iifname "lo" accept',
        "    meta nfproto ipv4 ip saddr @local icmp type echo-request accept",
        "  }",
        # What the policy drops, counted per endpoint, then dropped.
        "  chain deny_sent {",
        "    ip saddr @dropped_sent",
        "    drop",
        "  }",
        "  chain deny_received {",
        "    ip daddr @dropped_received",
        "    drop",
        "  }",
    ]
    lines += _chain("ingress", view.ingress, view.ingress_defaults, view, counters)
    lines += _chain("egress", view.egress, view.egress_defaults, view, counters)
    lines.append("}")
    return "\n".join(lines + bridge_table(view)) + "\n"


def _non_ip(rule: Rule) -> bool:
    """Whether a rule can match a frame that is not IPv4 (the oracle's semantics: a network
    side or a protocol needs IP)."""
    return rule.ether_type != _IPV4 and rule.remote is None and rule.protocol is None


def bridge_table(view: DomainView) -> list[str]:
    """Non-IP frames (ARP included), which the ``inet`` table never sees: table ``bridge
    overcast``, judged at the bridge's forward hook by the ACLs' non-IP entries and
    ``defaultAllowNonIP`` — from a local endpoint by its ingress policy, to one by its egress.
    IP frames pass here to the ``inet`` table. Frames to the bridge itself (ARP for the anycast
    gateway) take the input path and always pass; ARP for known endpoints is answered by the
    bridge itself (proxy ARP from the permanent neighbour entries), so resolution never needs
    frames between endpoints."""
    referenced = sorted({r.local for r in (*view.ingress, *view.egress) if _non_ip(r) and r.local})
    lines = [f"table bridge {TABLE} {{}}", f"delete table bridge {TABLE}", f"table bridge {TABLE} {{"]
    for name in referenced:
        cidrs = view.set(name)
        macs = sorted({e.mac for e in view.local if e.ip and covers(cidrs, e.ip)})
        body = f" elements = {{ {', '.join(macs)} }}" if macs else ""
        lines.append(f"  set {set_name(name)}_mac {{ type ether_addr;{body} }}")
    lines += [
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        "    ether type { ip, ip6 } accept",
        '    iifname "ov*" jump ingress',
        '    oifname "ov*" jump egress',
        "  }",
    ]
    for direction, rules, defaults in (
        ("ingress", view.ingress, view.ingress_defaults),
        ("egress", view.egress, view.egress_defaults),
    ):
        allowed = "return" if direction == "ingress" else "accept"
        side = "saddr" if direction == "ingress" else "daddr"
        lines.append(f"  chain {direction} {{")
        for rule in rules:
            if not _non_ip(rule):
                continue
            match = []
            if rule.ether_type is not None:
                match.append(f"ether type 0x{rule.ether_type:04x}")
            else:
                match.append("ether type != { ip, ip6 }")
            if rule.local is not None:
                match.append(f"ether {side} @{set_name(rule.local)}_mac")
            verdict = allowed if rule.action == "FORWARD" else "drop"
            lines.append(f'    {" ".join(match)} {verdict} comment "{rule.entry_id}"')
        lines.append(f'    {allowed if defaults.allow_non_ip else "drop"} comment "default"')
        lines.append("  }")
    lines.append("}")
    return lines


@dataclass(frozen=True)
class FirewallUpdate:
    """The nft script that brings a domain's firewall from what was loaded to what is planned."""

    script: str
    reload: bool  # the table's shape changed: the whole table is replaced
    changed: dict[str, frozenset[str]]  # the sets whose contents change (every set on a reload)


def firewall_update(
    view: DomainView,
    table: str,
    sets: Mapping[str, frozenset[str]],
    loaded_table: str | None,
    loaded_sets: Mapping[str, frozenset[str]],
    counters: Mapping[CounterKey, tuple[int, int]] | None = None,
) -> FirewallUpdate | None:
    """What to run, or None when nothing changes: the whole table when its shape (``table``,
    as :func:`ruleset` without elements) differs from the one loaded, else only the elements
    of the sets that changed. The Linux driver runs it through libnftables; the memory
    dataplane through its model of nftables."""
    if loaded_table != table:
        return FirewallUpdate(ruleset(view, dict(sets), counters=counters), True, dict(sets))
    changed = {n: c for n, c in sets.items() if loaded_sets.get(n) != c}
    if not changed:
        return None
    return FirewallUpdate(element_changes(dict(loaded_sets), changed), False, changed)
