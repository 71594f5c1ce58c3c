"""The north-south world both dataplanes are tested with: two tenants with the same addresses,
a floating IP, PAT, and policy on outside traffic."""

from __future__ import annotations

from .world import World

FIP = "203.0.113.10"


def tenant(world: World, *, pat_host: str) -> dict[str, str]:
    """web (web1 on h1, web2 on h2) and db (a PAT subnet, db1 on ``pat_host``): web accepts
    tcp/80 from anywhere; every endpoint may reach tcp/8080 anywhere."""
    web = world.group()
    n = {
        "web1": world.endpoint(world.web_net, "10.1.1.10", "h1", web),
        "web2": world.endpoint(world.web_net, "10.1.1.20", "h2", web),
        "db1": world.endpoint(world.db_net, "10.1.2.10", pat_host),
    }
    world.state.objects["subnet"][world.db_net]["PATEnabled"] = "ENABLED"
    ingress, egress = world.policy("ingress"), world.policy("egress")
    world.entry(ingress, "ingress", 10, protocol="6", destinationPort="8080")  # anyone, anywhere
    world.entry(egress, "egress", 10, locationType="POLICYGROUP", locationID=web, protocol="6",
                destinationPort="80")  # fmt: skip
    return n


def two_tenants() -> tuple[World, World, dict[str, str]]:
    """Tenant one with web1's floating IP; tenant two (``x-`` names) the same without it."""
    world = World()
    n = tenant(world, pat_host="h2")
    n["fip"] = world.floating_ip(n["web1"], FIP)
    other = World()
    other.state, other.hosts = world.state, world.hosts
    other.domain = other.add("domain", parentID="ent-2", name="d2")
    other.zone = other.add("zone", parentID=other.domain, parentType="domain")
    other.web_net, other.db_net = other.subnet("10.1.1.0"), other.subnet("10.1.2.0")
    n.update({f"x-{k}": v for k, v in tenant(other, pat_host="h2").items()})
    return world, other, n
