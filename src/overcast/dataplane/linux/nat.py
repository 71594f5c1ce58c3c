"""North-south for a domain namespace, distributed: every host translates for its own endpoints
(pure: names, addresses and nftables text; :mod:`.uplink` programs them).

A domain that has, on this host, an endpoint with a floating IP, or in a subnet with PAT or an
advertised subnet, gets an *uplink*: a veth pair from the domain namespace (``ou0``) to the
host namespace (``ou<hash>``), numbered from 169.254.128.0/17 — a /31 per domain on this host,
so that replies to translated traffic find their namespace even when tenants reuse addresses.

* Floating IPs: 1:1 NAT in the domain namespace (``table ip overcast_nat``): DNAT of the floating
  IP to the endpoint for what arrives on ``ou0``, SNAT of the endpoint to its floating IP for
  what leaves by it. The host namespace routes each floating IP (/32) into its domain's uplink;
  the routers learn it with this host as next hop.
* PAT: what a PAT subnet's endpoints (without a floating IP) send out is translated to the
  domain's uplink address in its namespace, and again to the host's own address by the host
  namespace's masquerade (``table ip overcast_host``): the outside sees an address Overcast
  owns; conntrack in each namespace takes the replies back.
* Advertised subnets: routed into the domain as they are, and out without translation.

The domain's firewall keeps deciding (:mod:`.nftables`): what may leave by the uplink (sources
with a floating IP, in a PAT or advertised subnet) and what may arrive by it (endpoints with a
floating IP, advertised subnets) are sets, then the ACLs judge as for any other traffic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass

import xxhash

from ...policy.compiler import DomainView

#: The uplink's end in every domain namespace, and the prefix of its end in the host namespace.
UPLINK = "ou0"
HOST_LINK = "ou"
#: Where uplink /31s are numbered from: 16,384 domains per host.
LINK_NETWORK = ipaddress.IPv4Network("169.254.128.0/17")
LINKS = LINK_NETWORK.num_addresses // 2
NAT_TABLE, HOST_TABLE = "overcast_nat", "overcast_host"


@dataclass(frozen=True)
class UplinkSpec:
    host_link: str  # the host namespace's end
    domain_address: str  # on ou0 (/31)
    host_address: str  # on the host's end (/31): the domain namespace's default route
    routes: frozenset[str]  # prefixes the host namespace routes into the domain
    floating: frozenset[str]  # the floating IPs translated here
    nat: str  # the domain namespace's NAT table (a whole nft script)


def link_addresses(index: int) -> tuple[str, str]:
    """(domain end, host end) of uplink number ``index``."""
    first = LINK_NETWORK.network_address + 2 * index
    return str(first), str(first + 1)


def link_index(address: str) -> int | None:
    """The uplink number of either end's address, None outside the uplink range."""
    ip = ipaddress.IPv4Address(address)
    if ip not in LINK_NETWORK:
        return None
    return (int(ip) - int(LINK_NETWORK.network_address)) // 2


def choose_index(domain_id: str, taken: Collection[int]) -> int:
    """A free uplink number for a domain: its hash's, else the next free one (stable while the
    domain keeps its uplink: the driver reads the numbers in use back from the kernel)."""
    start = xxhash.xxh3_64_intdigest(domain_id.encode()) % LINKS
    for step in range(LINKS):
        index = (start + step) % LINKS
        if index not in taken:
            return index
    raise RuntimeError(f"all {LINKS} uplinks of this host are in use")


def keep_index(numbers: dict[str, int], link: str, domain_id: str) -> int:
    """The number of a domain's uplink ``link`` in ``numbers`` (link -> number): chosen the
    first time (:func:`choose_index`), kept while the link is there."""
    if link not in numbers:
        numbers[link] = choose_index(domain_id, set(numbers.values()))
    return numbers[link]


def floating(view: DomainView) -> dict[str, str]:
    """Local endpoints' floating IP -> their address."""
    return {e.floating_ip: e.ip for e in view.local if e.floating_ip and e.ip}


def _prefixes(view: DomainView, attribute: str) -> set[str]:
    return {s.prefix for s in view.subnets if s.prefix and getattr(s, attribute)}


def needs_uplink(view: DomainView) -> bool:
    """Whether this host translates or routes north-south traffic for the domain: one of its
    local endpoints has a floating IP, or is in a PAT or advertised subnet."""
    outward = {s.id for s in view.subnets if s.pat or s.advertise}
    return any(e.floating_ip or e.subnet_id in outward for e in view.local)


def uplink_sets(view: DomainView) -> dict[str, frozenset[str]]:
    """The firewall's uplink sets: ``outside`` — sources that may leave by the uplink (endpoints
    with a floating IP, PAT and advertised subnets); ``inbound`` — destinations that may be
    reached by it, after DNAT (endpoints with a floating IP, advertised subnets)."""
    with_fip = {f"{ip}/32" for ip in floating(view).values()}
    advertised = _prefixes(view, "advertise")
    return {
        "outside": frozenset(with_fip | advertised | _prefixes(view, "pat")),
        "inbound": frozenset(with_fip | advertised),
    }


def host_routes(view: DomainView) -> frozenset[str]:
    """What the host namespace routes into the domain: local floating IPs, advertised subnets
    (the domain namespace forwards to endpoints on other hosts over VXLAN)."""
    return frozenset({f"{fip}/32" for fip in floating(view)} | _prefixes(view, "advertise"))


def nat_ruleset(view: DomainView, domain_address: str) -> str:
    """The domain namespace's NAT table, replacing any previous one (flows already translated
    keep their translation in conntrack: a reload drops nothing)."""
    fips = floating(view)
    pat = sorted(_prefixes(view, "pat"))
    lines = [f"table ip {NAT_TABLE} {{}}", f"delete table ip {NAT_TABLE}", f"table ip {NAT_TABLE} {{"]
    lines.append(_map("fip_in", sorted(fips.items())))
    lines.append(_map("fip_out", sorted((ip, fip) for fip, ip in fips.items())))
    body = f" elements = {{ {', '.join(pat)} }}" if pat else ""
    lines += [
        f"  set pat {{ type ipv4_addr; flags interval;{body} }}",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        f'    iifname "{UPLINK}" dnat to ip daddr map @fip_in',
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        f'    oifname "{UPLINK}" snat to ip saddr map @fip_out',
        f'    oifname "{UPLINK}" ip saddr @pat snat to {domain_address}',
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _map(name: str, pairs: list[tuple[str, str]]) -> str:
    body = f" elements = {{ {', '.join(f'{k} : {v}' for k, v in pairs)} }}" if pairs else ""
    return f"  map {name} {{ type ipv4_addr : ipv4_addr;{body} }}"


#: The host namespace's share: what PAT sent out of a domain (from its uplink address) leaves
#: with the host's own address. One table for every domain of the host.
HOST_NAT = (
    f"table ip {HOST_TABLE} {{}}\n"
    f"delete table ip {HOST_TABLE}\n"
    f"table ip {HOST_TABLE} {{\n"
    "  chain postrouting {\n"
    "    type nat hook postrouting priority srcnat; policy accept;\n"
    f'    ip saddr {LINK_NETWORK} oifname != "{HOST_LINK}*" masquerade\n'
    "  }\n"
    "}\n"
)


def uplink_spec(view: DomainView, host_link: str, index: int) -> UplinkSpec:
    domain_address, host_address = link_addresses(index)
    fips = frozenset(floating(view))
    nat = nat_ruleset(view, domain_address)
    return UplinkSpec(host_link, domain_address, host_address, host_routes(view), fips, nat)
