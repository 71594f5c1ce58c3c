"""What the gateways announce to the routers (pure): every assigned floating IP as a /32 with
the host that runs its endpoint as next hop (that host translates: see
:mod:`overcast.dataplane.linux.nat`), and every advertised subnet with a host of its domain as
next hop (that host's domain namespace forwards to the endpoint wherever it runs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..policy.compiler import Key


def north_south_routes(domains: Mapping[str, Mapping[Key, Any]]) -> dict[str, str]:
    """Prefix -> next hop, from the compiled domains (the controller's engine state). An
    advertised subnet's next hop is the lowest underlay address among the hosts running an
    endpoint of the subnet (any of the domain's would do; the lowest is stable)."""
    routes: dict[str, str] = {}
    for entries in domains.values():
        by_subnet: dict[str, set[str]] = {}
        advertised: dict[str, str] = {}
        for key, value in entries.items():
            if key[0] == "endpoint" and value.vtep:
                if value.floating_ip:
                    routes[f"{value.floating_ip}/32"] = value.vtep
                by_subnet.setdefault(value.subnet_id, set()).add(value.vtep)
            elif key[0] == "subnet" and value.advertise and value.prefix:
                advertised[value.id] = value.prefix
        for subnet_id, prefix in advertised.items():
            hosts = by_subnet.get(subnet_id)
            if hosts:
                routes[prefix] = min(hosts, key=lambda address: tuple(int(p) for p in address.split(".")))
    return routes


def route_changes(
    announced: Mapping[str, str], wanted: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(to withdraw, to announce): withdrawn are gone prefixes and changed next hops' old paths."""
    withdraw = {p: hop for p, hop in announced.items() if wanted.get(p) != hop}
    announce = {p: hop for p, hop in wanted.items() if announced.get(p) != hop}
    return withdraw, announce
